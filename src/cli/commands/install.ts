// `install`: verify the bundle, then run the ordered phase list against the cluster.
import { withoutControlPlaneHere } from "../../cluster/control-planes.ts";
import { PHASES } from "../../phases/index.ts";
import { describePlan, selectPhases, runPhases, PhaseFailure, type PhaseOutcome } from "../../phases/runner.ts";
import { createProgress, summaryTable } from "../progress.ts";
import { openChangingSession, parseList, parsePositiveInt, confirm, requireOnMaster, type ClusterSession } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { recordPhaseDone, stateFile } from "../../phases/state.ts";
import { checkBundleBeforeInstall } from "./verify-bundle.ts";
import type { GlobalFlags } from "../flags.ts";
import { dryRunProblems } from "../dry-run.ts";
import { runInputs } from "../run-inputs.ts";
import { embeddedLock } from "../../depot/lock.ts";
import { firstMaster, type ClusterConfig } from "../../config/types.ts";
import { InstallError, UsageError } from "../../util/errors.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUNDLE_STAMP } from "../../cluster/state-replica.ts";
import { invokedAs } from "../invoked.ts";
import { buildTimeline, timelineTable } from "../timeline.ts";
import { writeFileSync } from "node:fs";
import type { RunLogger } from "../../util/log.ts";

interface InstallFlags extends GlobalFlags {
  bundle?: string;
  only?: string;
  from?: string;
  ignorePreflightErrors?: string;
  concurrency?: number | string;
  timings?: string;
}

/** How add-node and replace-node run the phases: which command it is, and who may be left out when down. */
export interface InstallRun {
  command: string;
  leaveOutDown?: { mustReach: string[] };
}

export default async function install(flags: InstallFlags, how: InstallRun = { command: "install" }): Promise<number> {
  const config = readConfig(flags);
  const phases = selectPhases(PHASES, { only: parseList(flags.only, "--only"), from: typeof flags.from === "string" ? flags.from : undefined });
  const concurrency = parsePositiveInt(flags.concurrency ?? 16, "--concurrency");
  if (flags.dryRun) {
    console.log(`Plan for cluster "${config.name}" (${config.hosts.length} hosts, config ${config.source}); nothing will be changed:\n`);
    console.log(describePlan(phases, { config }));
    const problems = await dryRunProblems({ config, bundleDir: runInputs(flags, config).bundleDir, lock: embeddedLock() });
    if (problems.length) {
      process.stderr.write(`\nthe install would stop: ${problems.length} problem(s), nothing was changed:\n${problems.map((p) => `  - ${p}`).join("\n")}\n`);
      return 1;
    }
    console.log("\nchecked: bundle lock, bundle files, profile, SSH keys, this machine is master1, SSH answers on every node");
    return 0;
  }
  // What this machine can tell at once stops the install before the question, not after it.
  const blockers = await dryRunProblems({ config, bundleDir: runInputs(flags, config).bundleDir, lock: embeddedLock(), localOnly: true });
  if (blockers.length) throw new InstallError(`the install cannot start; no node was changed:\n${blockers.map((p) => `  - ${p}`).join("\n")}\n(install --dry-run checks these and more)`);
  requireOnMaster(config, how.command);
  await confirm(`Install cluster "${config.name}" on ${config.hosts.map((h) => h.name).join(", ")}?`, flags);
  const session = await openChangingSession(config, flags, "install", how.leaveOutDown);
  const { ctx, log } = session;
  const progress = createProgress();
  // Every log line (pool notices, phase reports) goes above the live status line, never glued to it.
  log.setTerminal(progress.print);
  let outcomes: PhaseOutcome[] = [];
  try {
    requireStateOrMaster1(session);
    const notHere = await withoutControlPlaneHere(ctx);
    if (notHere) throw new InstallError(`${notHere}. Nothing was changed: run install on one of those masters (it joins ${ctx.local.name}), or replace-node ${ctx.local.name} there to rebuild it`);
    if (log.logFile) log.info(`log: ${log.logFile}`);
    // Nothing touches a node before the bundle is known to be whole.
    await checkBundleBeforeInstall(ctx.bundleDir, log, join(ctx.stateDir, BUNDLE_STAMP));
    outcomes = await runPhases(phases, ctx, { concurrency }, progress, async (o) => {
      await recordPhaseDone(ctx, o);
      await session.replicate(); // every master holds the state of every finished phase
    });
    progress.stop();
    log.setTerminal(undefined);
    log.info(`\n${summaryTable(outcomes)}\n\n${nextSteps(config, log.logFile)}`);
    writeTimings(outcomes, flags, log);
    return 0;
  } catch (err) {
    progress.stop();
    log.setTerminal(undefined);
    if (err instanceof PhaseFailure) {
      log.info(`\n${summaryTable(err.outcomes)}\n`);
      writeTimings(err.outcomes, flags, log);
    }
    throw err;
  } finally {
    await session.close();
  }
}

/**
 * A new cluster starts on master1 (kubeadm init runs there); once installed, every master holds the
 * state and can run install, add-node and replace-node.
 */
function requireStateOrMaster1(session: ClusterSession): void {
  const master1 = firstMaster(session.config);
  if (session.ctx.local.name === master1.name || existsSync(stateFile(session.ctx))) return;
  throw new UsageError(
    `there is no installer state on ${session.ctx.local.name} (${stateFile(session.ctx)}): a new cluster is installed from master1 (${master1.name}, ${master1.address})`,
    `run the install on ${master1.address}; afterwards every master holds the state`,
  );
}

/**
 * The run's timeline (src/cli/timeline.ts): its table always ends the log (on the terminal too with
 * --timings), and --timings FILE gets it as JSON, after a failure as well (where did the time go).
 */
function writeTimings(outcomes: readonly PhaseOutcome[], flags: InstallFlags, log: RunLogger): void {
  if (!outcomes.length) return;
  const timeline = buildTimeline(outcomes);
  const table = timelineTable(timeline);
  if (!flags.timings) return log.debug(table);
  log.info(`\n${table}`);
  try {
    writeFileSync(flags.timings, `${JSON.stringify(timeline, null, 2)}\n`);
    log.info(`timings: ${flags.timings}`);
  } catch (e) {
    // The install itself is done (or failed for its own reason): a timings file is not worth failing it.
    log.warn(`could not write --timings ${flags.timings}: ${(e as Error).message}`);
  }
}

/** What the operator does next, printed at the end of a successful install. */
export function nextSteps(config: ClusterConfig, logFile: string | undefined): string {
  const me = invokedAs();
  const endpoint = `https://${config.loadBalancer.vip}:${config.loadBalancer.port}`;
  return [
    `cluster "${config.name}" is installed. API endpoint: ${endpoint} (the VIP, through haproxy)`,
    "",
    "Next:",
    "  kubectl get nodes                     # kubeconfig: /root/.kube/config (a copy of /etc/kubernetes/admin.conf)",
    `  ${me} kubeconfig > admin.conf   # the admin kubeconfig for ${endpoint}, to use elsewhere (keep it secret)`,
    `  ${me} status                    # nodes, services, etcd, VIP, depot`,
    `  ${me} check-certs               # certificate expiry (exit codes for monitoring)`,
    `  ${me} backup                    # etcd snapshot + PKI in one archive; backup --schedule daily for a timer`,
    ...(logFile ? [`  log of this run: ${logFile}`] : []),
  ].join("\n");
}
