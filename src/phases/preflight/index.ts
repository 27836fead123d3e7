// Phase "preflight": read-only checks on every node, one table, stop before anything changes.
import type { Phase, PhaseContext } from "../phase.ts";
import { controlPlanes } from "../../config/types.ts";
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
  // A node found down at the start of add-node/replace-node is left out (ctx.down), not reported here.
  await Promise.all(
    ctx.config.hosts.filter((h) => !ctx.down?.has(h.name)).map(async (spec) => {
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
  const vipAnswers = !held && (await ctx.local.exec(sh`ping -c 1 -W 1 ${vip} >/dev/null 2>&1`, { check: false })).code === 0 && !(await heldByAMaster(ctx, vip));
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

/**
 * Whether a control-plane node holds the VIP now. The facts were read a moment before the ping: while our own
 * keepalived moves the VIP (a re-run after a killed lb phase), no node held it then and one holds it now.
 * Asked a few times over about three seconds, so only an address nobody of ours takes is reported.
 */
async function heldByAMaster(ctx: PhaseContext, vip: string): Promise<boolean> {
  for (let i = 0; i < 4; i++) {
    if (i) await Bun.sleep(1000);
    const outs = await Promise.all(
      controlPlanes(ctx.config).map(async (m) => (await (await ctx.host(m)).exec(sh`ip -o -4 addr show`, { check: false, timeoutMs: 10_000 })).stdout),
    );
    if (outs.some((o) => o.split(/\s+/).some((w) => w.split("/")[0] === vip))) return true;
  }
  return false;
}
