// Phase "preflight": read-only checks on every node, one table, stop before anything changes.
import type { Phase } from "../phase.ts";
import { InstallError } from "../../util/errors.ts";
import { reasonOn } from "../../hosts/host.ts";
import { gatherFacts, type NodeFacts } from "./facts.ts";
import { evaluate, blocking, findingsTable } from "./checks.ts";
import { sh } from "../../util/sh.ts";

export const preflight: Phase = {
  name: "preflight",
  title: "Check every node (OS, resources, swap, interface, ports, clocks, unique names) without changing anything",
  hosts: (c) => c.hosts,
  mode: "once",
  // Always worth running: it is cheap and the world may have changed since the last run.
  check: async () => ({ todo: true, why: "checks run on every install" }),
  async run(ctx) {
    const facts = new Map<string, NodeFacts>();
    const unreachable: string[] = [];
    await Promise.all(
      ctx.config.hosts.map(async (spec) => {
        try {
          facts.set(spec.name, await gatherFacts(await ctx.host(spec)));
        } catch (e) {
          unreachable.push(`  ${spec.name} (${spec.address}): ${reasonOn(spec.name, e)}`);
        }
      }),
    );
    if (unreachable.length) throw new InstallError(`cannot work on every node; nothing was changed:\n${unreachable.join("\n")}`);
    const vip = ctx.config.loadBalancer.vip;
    const held = [...facts.values()].some((f) => Object.values(f.addrs).flat().some((c) => c.split("/")[0] === vip));
    const vipAnswers = !held && (await ctx.local.exec(sh`ping -c 1 -W 1 ${vip} >/dev/null 2>&1`, { check: false })).code === 0;
    const findings = evaluate(ctx.config, facts, vipAnswers);
    const stop = blocking(findings, ctx.ignorePreflightErrors);
    const table = findingsTable(findings);
    if (stop.length) throw new InstallError(`preflight found ${stop.length} problem(s); nothing was changed:\n${table}\n(--ignore-preflight-errors=NAME,... downgrades a check to a warning)`);
    ctx.log.info(table);
  },
};
