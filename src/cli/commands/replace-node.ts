// `replace-node NAME [--force]`, from a surviving master: a node that died or lost its disk comes back
// on a machine with the same address and SSH key. Every check runs first (src/ops/replace-node.ts:
// nothing changes when one refuses); then its etcd member is removed and its Node deleted, and the
// install phases run as for add-node — the node is installed fresh, its etcd member added again before
// it starts, and every other node reports nothing to do.
import { openChangingSession, confirm, requireOnMaster } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { UsageError } from "../../util/errors.ts";
import { executeReplacement, planReplacement, replacementSteps } from "../../ops/replace-node.ts";
import install from "./install.ts";
import type { GlobalFlags } from "../flags.ts";

export default async function replaceNode(name: string, flags: GlobalFlags & { force?: boolean; bundle?: string }): Promise<number> {
  const config = readConfig(flags);
  if (!config.hosts.some((h) => h.name === name))
    throw new UsageError(`${name} is not in ${config.source}: nothing was changed`, `replace-node takes a host of the config (${config.hosts.map((h) => h.name).join(", ")})`);
  // The admin kubeconfig, the installer state and etcdctl's certificates are on every master.
  requireOnMaster(config, "replace-node");
  if (!flags.dryRun) await confirm(`Replace ${name}: remove it from etcd and Kubernetes, then install it fresh?`, flags);
  // The node being replaced must answer (the new machine is up); another node that is down is left out.
  const leaveOutDown = { mustReach: [name] };
  const session = await openChangingSession(config, flags, "replace-node", leaveOutDown);
  const { ctx, log } = session;
  try {
    log.info(`replace-node ${name}: checking ${name}, etcd and the API from ${ctx.local.name}; nothing changes before every check passed`);
    const plan = await planReplacement(ctx, name, { force: Boolean(flags.force) });
    const steps = replacementSteps(plan);
    if (flags.dryRun) {
      console.log(`replace-node ${name} would:\n${steps.map((s, i) => `  ${i + 1}. ${s}`).join("\n")}`);
      return 0;
    }
    log.info(`${name} (${plan.node.address}) is ${plan.forced ? "alive and healthy; replaced because of --force" : "to be replaced"}:\n${steps.map((s, i) => `  ${i + 1}. ${s}`).join("\n")}`);
    await executeReplacement(ctx, plan, (line) => log.info(`  ${line}`));
  } finally {
    await session.close();
  }
  if (flags.dryRun) return 0;
  log.info(`${name}: installing it fresh (every phase runs; the other nodes report nothing to do)`);
  return install({ ...flags, yes: true }, { command: "replace-node", leaveOutDown });
}
