// Phase "preflight": read-only checks on every node, one table, stop before anything changes.
import type { Phase, PhaseContext } from "../phase.ts";
import { InstallError } from "../../util/errors.ts";
import { reasonOn } from "../../hosts/host.ts";
import { gatherFacts, type NodeFacts } from "./facts.ts";
import { evaluate, blocking, findingsTable, type Finding } from "./checks.ts";
import { sh } from "../../util/sh.ts";

export interface PreflightResult {
  /** Every finding, ok ones included, in node order. */
  findings: Finding[];
  /** Nodes that could not be asked, with why. */
  unreachable: { host: string; address: string; error: string }[];
  /** The error findings that --ignore-preflight-errors did not downgrade. */
  blocking: Finding[];
}

/** Gathers the facts of every node and judges them; throws nothing for what it finds (the caller decides). */
export async function runPreflight(ctx: PhaseContext): Promise<PreflightResult> {
  const facts = new Map<string, NodeFacts>();
  const unreachable: PreflightResult["unreachable"] = [];
  await Promise.all(
    ctx.config.hosts.map(async (spec) => {
      try {
        facts.set(spec.name, await gatherFacts(await ctx.host(spec)));
      } catch (e) {
        unreachable.push({ host: spec.name, address: spec.address, error: reasonOn(spec.name, e) });
      }
    }),
  );
  const order = ctx.config.hosts.map((h) => h.name);
  unreachable.sort((a, b) => order.indexOf(a.host) - order.indexOf(b.host));
  if (unreachable.length) return { findings: [], unreachable, blocking: [] };
  const vip = ctx.config.loadBalancer.vip;
  const held = [...facts.values()].some((f) => Object.values(f.addrs).flat().some((c) => c.split("/")[0] === vip));
  const vipAnswers = !held && (await ctx.local.exec(sh`ping -c 1 -W 1 ${vip} >/dev/null 2>&1`, { check: false })).code === 0;
  const findings = evaluate(ctx.config, facts, vipAnswers);
  return { findings, unreachable, blocking: blocking(findings, ctx.ignorePreflightErrors) };
}

export const unreachableText = (r: PreflightResult) =>
  `cannot work on every node; nothing was changed:\n${r.unreachable.map((u) => `  ${u.host} (${u.address}): ${u.error}`).join("\n")}`;

export const preflight: Phase = {
  name: "preflight",
  title: "Check every node (OS, resources, swap, interface, ports, clocks, unique names) without changing anything",
  hosts: (c) => c.hosts,
  mode: "once",
  // Always worth running: it is cheap and the world may have changed since the last run. No "why":
  // nothing was found missing, so the result line has no "(was: ...)" to show.
  check: async () => ({ todo: true, why: "" }),
  async run(ctx) {
    const r = await runPreflight(ctx);
    if (r.unreachable.length) throw new InstallError(unreachableText(r));
    const table = findingsTable(r.findings);
    if (r.blocking.length) throw new InstallError(`preflight found ${r.blocking.length} problem(s); nothing was changed:\n${table}\n(--ignore-preflight-errors=NAME,... downgrades a check to a warning)`);
    ctx.log.info(table);
  },
};
