// `reset --yes` (the whole cluster) and `reset --node NAME --yes`: undo what install did
// (src/ops/reset.ts). A single node is first drained and deleted from Kubernetes when the API
// answers; one whose loss would break etcd quorum, the last control plane and master1 are refused.
import { invokedAs } from "../invoked.ts";
import { openSession, confirm } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { UsageError, InstallError, errorText } from "../../util/errors.ts";
import { firstMaster } from "../../config/types.ts";
import type { GlobalFlags } from "../flags.ts";
import { drainAndDeleteNode } from "../../cluster/node-removal.ts";
import { nodeResetRefusal, planNodeReset, resetNode } from "../../ops/reset.ts";

export default async function reset(flags: GlobalFlags & { node?: string; purgePackages?: boolean }): Promise<number> {
  const config = readConfig(flags);
  const opts = { purgePackages: Boolean(flags.purgePackages) };
  if (flags.node !== undefined && (typeof flags.node !== "string" || !flags.node)) throw new UsageError("--node takes a node name of the config");
  const targets = flags.node ? config.hosts.filter((h) => h.name === flags.node) : config.hosts;
  if (flags.node) {
    const why = nodeResetRefusal(config, flags.node);
    if (why) throw new UsageError(`refusing to reset ${flags.node}: ${why}`, "reset the whole cluster with `reset --yes`, or change the topology in the config first");
  }
  const plans = targets.map((h) => planNodeReset(config, h, opts));
  if (flags.dryRun) {
    for (const p of plans)
      console.log(`${p.node}: stop and disable ${p.services.join(", ")}; ${p.releaseVip ? `release the VIP ${p.releaseVip}; ` : ""}${p.purgePackages ? "purge the packages the install added; " : ""}remove the /etc/hosts block and ${p.paths.join(" ")}`);
    return 0;
  }
  await confirm(flags.node ? `Reset ${flags.node} (drain, delete from the cluster, remove everything the install put there)?` : `Reset the WHOLE cluster ${config.name}: every node loses its Kubernetes, etcd data and certificates. Continue?`, flags);
  // The state directory goes away with master1's reset: the transcript is kept outside it.
  const logFile = flags.logFile ?? `/var/tmp/k8s-ha-offline-reset-${new Date().toISOString().replace(/[:.]/g, "-")}.log`;
  const session = openSession(config, { ...flags, logFile }, "reset");
  try {
    const { ctx } = session;
    if (flags.node) {
      try {
        session.log.info((await drainAndDeleteNode(ctx, flags.node)) ? `${flags.node}: drained and deleted from the cluster` : `${flags.node}: not a node of the cluster`);
      } catch (e) {
        session.log.warn(`${flags.node}: the API did not answer (${errorText(e).split("\n")[0]}); resetting the node without draining it`);
      }
    }
    const master1 = firstMaster(config).name;
    // master1 last: it runs this binary and holds the state until the others are done.
    const failures: string[] = [];
    const run = async (p: (typeof plans)[number]) => {
      const t = Date.now();
      try {
        await resetNode(await ctx.host(config.hosts.find((h) => h.name === p.node)!), config, p);
        session.log.info(`${p.node}: reset (${((Date.now() - t) / 1000).toFixed(1)} s)`);
      } catch (e) {
        failures.push(errorText(e));
      }
    };
    await Promise.all(plans.filter((p) => p.node !== master1).map(run));
    const mine = plans.find((p) => p.node === master1);
    if (mine && !failures.length) await run(mine);
    if (failures.length) throw new InstallError(`reset failed on ${failures.length} node(s):\n  ${failures.join("\n  ")}\nRun reset again: every part of it skips what is already gone`);
    session.log.info(flags.node ? `next: remove ${flags.node} from ${config.source} and run \`${invokedAs()} install --only os,lb\` to refresh /etc/hosts and the haproxy backends` : `the cluster is reset; transcript in ${logFile}`);
    return 0;
  } finally {
    await session.close();
  }
}
