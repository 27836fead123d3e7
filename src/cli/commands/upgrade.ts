// `upgrade plan --bundle DIR` and `upgrade apply --bundle DIR --yes [--max-unavailable N]`: run with the
// binary built together with the new bundle (it carries that bundle's lock). Every refusal comes before
// any change: exit 2 for what the operator brought, 1 for the state of the cluster.
import { gatherFacts } from "../../ops/upgrade/facts.ts";
import { planUpgrade, refusalCode, renderPlan } from "../../ops/upgrade/plan.ts";
import { applyUpgrade, rewriteConfig } from "../../ops/upgrade/apply.ts";
import { openChangingSession, openSession, confirm, parsePositiveInt, requireOnMaster } from "../context.ts";
import { configPath, readConfig, type RunFlags } from "../run-inputs.ts";
import { createProgress } from "../progress.ts";
import { UsageError } from "../../util/errors.ts";

interface UpgradeFlags extends RunFlags {
  maxUnavailable?: number | string;
  certWindowDays?: number | string;
  concurrency?: number | string;
}

export default async function upgradeCommand(action: string, flags: UpgradeFlags): Promise<number> {
  if (action !== "plan" && action !== "apply") throw new UsageError(`unknown upgrade action "${action}"`, "use `upgrade plan --bundle DIR` or `upgrade apply --bundle DIR --yes`");
  if (!flags.bundle) throw new UsageError("upgrade needs the new bundle: --bundle DIR", "pass the directory build.ts wrote beside this binary (bundle-<profile>…)");
  const maxUnavailable = parsePositiveInt(flags.maxUnavailable ?? 1, "--max-unavailable");
  const windowDays = parsePositiveInt(flags.certWindowDays ?? 7, "--cert-window-days");
  const concurrency = parsePositiveInt(flags.concurrency ?? 16, "--concurrency");
  const config = readConfig(flags);
  const apply = action === "apply" && !flags.dryRun;
  requireOnMaster(config, `upgrade ${action}`);
  const session = apply ? await openChangingSession(config, flags, "upgrade") : { ...openSession(config, flags, "upgrade-plan"), replicate: async () => {} };
  try {
    const { ctx, log } = session;
    const plan = planUpgrade(await gatherFacts(ctx, ctx.bundleDir, windowDays), maxUnavailable);
    process.stdout.write(renderPlan(plan));
    const code = refusalCode(plan.refusals);
    if (code) return code;
    if (!apply) return 0;
    if (plan.nothingToDo) {
      // A run killed after the last node but before cluster.yaml was rewritten leaves only that to do.
      if (rewriteConfig(configPath(flags), plan.to, ctx.bundleDir)) log.info(`${configPath(flags)}: kubernetes.version ${plan.to.replace(/^v/, "")}, bundle.dir ${ctx.bundleDir}`);
      return 0;
    }
    await confirm(`Upgrade cluster "${config.name}" to Kubernetes ${plan.to} (the order above)?`, flags);
    // From here on the run works toward the new version: the phases it reuses read it from the config.
    config.kubernetes.version = plan.to.replace(/^v/, "");
    const progress = createProgress();
    log.setTerminal(progress.print);
    try {
      await applyUpgrade(ctx, { plan, maxUnavailable, concurrency, progress, replicate: session.replicate, configFile: configPath(flags) });
    } finally {
      progress.stop();
      log.setTerminal(undefined);
    }
    log.info(`\nthe cluster runs Kubernetes ${plan.to} from ${ctx.bundleDir}; kubectl get nodes shows every kubelet at ${plan.to}`);
    return 0;
  } finally {
    await session.close();
  }
}
