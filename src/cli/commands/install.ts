// `install`: verify the bundle, then run the ordered phase list against the cluster.
import { PHASES } from "../../phases/index.ts";
import { describePlan, selectPhases, runPhases, PhaseFailure, type PhaseOutcome } from "../../phases/runner.ts";
import { createProgress, summaryTable } from "../progress.ts";
import { openSession, parseList, parsePositiveInt, confirm, requireMaster1 } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { recordPhaseDone } from "../../phases/state.ts";
import { checkBundleBeforeInstall } from "./verify-bundle.ts";
import type { GlobalFlags } from "../flags.ts";

interface InstallFlags extends GlobalFlags {
  bundle?: string;
  only?: string;
  from?: string;
  ignorePreflightErrors?: string;
  concurrency?: number | string;
}

export default async function install(flags: InstallFlags): Promise<number> {
  const config = readConfig(flags);
  const phases = selectPhases(PHASES, { only: parseList(flags.only, "--only"), from: typeof flags.from === "string" ? flags.from : undefined });
  const concurrency = parsePositiveInt(flags.concurrency ?? 16, "--concurrency");
  if (flags.dryRun) {
    console.log(`Plan for cluster "${config.name}" (${config.hosts.length} hosts, config ${config.source}); nothing will be changed:\n`);
    console.log(describePlan(phases, { config }));
    return 0;
  }
  await confirm(`Install cluster "${config.name}" on ${config.hosts.map((h) => h.name).join(", ")}?`, flags);
  const session = openSession(config, flags, "install");
  const { ctx, log } = session;
  const progress = createProgress();
  let outcomes: PhaseOutcome[] = [];
  try {
    requireMaster1(session);
    if (log.logFile) log.info(`log: ${log.logFile}`);
    // Nothing touches a node before the bundle is known to be whole.
    await checkBundleBeforeInstall(ctx.bundleDir, log);
    outcomes = await runPhases(phases, ctx, { concurrency }, progress, (o) => recordPhaseDone(ctx, o));
    progress.stop();
    log.info(`\n${summaryTable(outcomes)}\n\ncluster "${config.name}" is installed.`);
    return 0;
  } catch (err) {
    progress.stop();
    if (err instanceof PhaseFailure) log.info(`\n${summaryTable(err.outcomes)}\n`);
    throw err;
  } finally {
    await session.close();
  }
}
