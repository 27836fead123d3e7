// Runs the ordered phase list: selects (--only/--from), checks each host, runs what is left,
// stops at the first phase that failed anywhere, and records finished phases on master1.
import type { HostSpec } from "../config/types.ts";
import { UsageError, InstallError } from "../util/errors.ts";
import type { Phase, PhaseContext, CheckResult } from "./phase.ts";
import { HostError, reasonOn } from "../hosts/host.ts";
import { createLimiter } from "../hosts/limit.ts";

export type HostStatus = "done" | "nothing to do" | "skipped" | "failed" | "not reached";

export interface HostOutcome {
  host: string;
  status: HostStatus;
  detail?: string;
  /**
   * The node whose failure this is, when not `host` itself: a phase run from master1 that could not
   * reach master2 failed because of master2 (its handshake, its command), and says so.
   */
  blame?: string;
  /** When the check began (epoch ms), for the timeline (src/cli/timeline.ts). */
  start: number;
  /** How long the check took; ms - checkMs is the run. */
  checkMs: number;
  ms: number;
}

export interface PhaseOutcome {
  name: string;
  title: string;
  hosts: HostOutcome[];
  /** When the phase began (epoch ms). */
  start: number;
  ms: number;
}

/** What the runner reports as it goes; the command line draws it (src/cli/progress.ts). */
export interface PhaseProgress {
  phaseStarted(name: string, title: string, hostCount: number): void;
  hostStarted(phase: string, host: string): void;
  hostFinished(phase: string, host: string): void;
  phaseFinished(outcome: PhaseOutcome): void;
}

export interface RunOptions {
  only?: string[];
  from?: string;
  /** How many hosts a parallel phase works on at once. */
  concurrency: number;
}

export function selectPhases(all: readonly Phase[], opts: Pick<RunOptions, "only" | "from">): Phase[] {
  const names = all.map((p) => p.name);
  const unknown = [...(opts.only ?? []), ...(opts.from ? [opts.from] : [])].filter((n) => !names.includes(n));
  if (unknown.length)
    throw new UsageError(`unknown phase ${unknown.map((n) => `"${n}"`).join(", ")}`, `phases are: ${names.join(", ")}`);
  if (opts.only?.length && opts.from) throw new UsageError("--only and --from cannot be used together");
  if (opts.only?.length) return all.filter((p) => opts.only!.includes(p.name));
  if (opts.from) return all.slice(names.indexOf(opts.from));
  return [...all];
}

/** The plan for --dry-run: which phase runs on which hosts, nothing contacted. */
export function describePlan(phases: readonly Phase[], ctx: Pick<PhaseContext, "config">): string {
  const rows = phases.map((p, i) => {
    const hosts = p.hosts(ctx.config).map((h) => h.name);
    const how = p.mode === "once" ? "once, on" : p.mode === "serial" ? "one by one on" : "in parallel on";
    const where = p.mode === "local" ? "once, from the master this runs on (reaching into the nodes it needs)" : `${how} ${hosts.join(", ") || "(no hosts)"}`;
    return `${String(i + 1).padStart(2)}. ${p.name.padEnd(20)} ${p.title}\n      ${where}`;
  });
  return rows.join("\n");
}

/** What a node left out of the run (down when it started) shows in every phase. */
export const LEFT_OUT = "down when the run started: left out (run install again when it is back)";

/**
 * Where a "local" phase runs: the acting master, i.e. the config host this binary runs on (ctx.local),
 * when the phase lists it; else its first host that is not down.
 */
function localTarget(nodes: HostSpec[], ctx: PhaseContext): HostSpec[] {
  const here = nodes.find((n) => n.name === ctx.local.name) ?? nodes.find((n) => !ctx.down?.has(n.name));
  return here ? [here] : nodes.slice(0, 1);
}

async function checkAndRun(phase: Phase, ctx: PhaseContext, node: HostSpec, progress: PhaseProgress): Promise<HostOutcome> {
  if (ctx.down?.has(node.name)) return { host: node.name, status: "skipped", detail: LEFT_OUT, start: Date.now(), checkMs: 0, ms: 0 };
  const started = performance.now();
  const start = Date.now();
  const elapsed = () => Math.round(performance.now() - started);
  let checkMs: number | undefined;
  const timed = (o: Pick<HostOutcome, "status" | "detail" | "blame">): HostOutcome => ({ host: node.name, ...o, start, checkMs: checkMs ?? elapsed(), ms: elapsed() });
  progress.hostStarted(phase.name, node.name);
  try {
    const check: CheckResult = await phase.check(ctx, node);
    checkMs = elapsed();
    if ("skip" in check) return timed({ status: "skipped", detail: check.skip });
    if (!check.todo) return timed({ status: "nothing to do" });
    ctx.log.debug(`[${phase.name}] ${node.name}: ${check.why}`);
    await phase.run(ctx, node);
    return timed({ status: "done", detail: check.why });
  } catch (err) {
    // The outcome is shown under the node's name; a host error of another node names that node.
    const other = err instanceof HostError && err.host !== node.name && ctx.config.hosts.some((h) => h.name === err.host) ? err.host : undefined;
    return timed({ status: "failed", detail: other ? reasonOn(other, err) : reasonOn(node.name, err), ...(other ? { blame: other } : {}) });
  } finally {
    progress.hostFinished(phase.name, node.name);
  }
}

export async function runPhase(phase: Phase, outer: PhaseContext, opts: RunOptions, progress: PhaseProgress): Promise<PhaseOutcome> {
  const started = performance.now();
  const start = Date.now();
  // What the phase reports for after its result line (src/phases/phase.ts report).
  const reports: string[] = [];
  const ctx: PhaseContext = { ...outer, report: (text) => void reports.push(text) };
  const nodes = phase.hosts(ctx.config);
  progress.phaseStarted(phase.name, phase.title, nodes.length);
  let hosts: HostOutcome[];
  if (phase.mode === "parallel") {
    // checkAndRun never throws (a failure is an outcome), so one node never hides the others.
    const limited = createLimiter(opts.concurrency);
    hosts = await Promise.all(nodes.map((n) => limited(() => checkAndRun(phase, ctx, n, progress))));
  } else {
    // "once" runs on the first host only, "local" on the acting master; "serial" stops at the first
    // failure so a broken control-plane join is not followed by another one.
    const targets = phase.mode === "once" ? nodes.slice(0, 1) : phase.mode === "local" ? localTarget(nodes, ctx) : nodes;
    hosts = [];
    for (const n of targets) {
      const r = await checkAndRun(phase, ctx, n, progress);
      hosts.push(r);
      if (r.status === "failed") break;
    }
    for (const n of targets.slice(hosts.length)) hosts.push({ host: n.name, status: "not reached", start: Date.now(), checkMs: 0, ms: 0 });
  }
  const outcome = { name: phase.name, title: phase.title, hosts, start, ms: Math.round(performance.now() - started) };
  progress.phaseFinished(outcome);
  for (const text of reports) ctx.log.info(text);
  return outcome;
}

export async function runPhases(
  phases: readonly Phase[],
  ctx: PhaseContext,
  opts: RunOptions,
  progress: PhaseProgress,
  onPhaseDone?: (o: PhaseOutcome) => Promise<void>,
): Promise<PhaseOutcome[]> {
  const outcomes: PhaseOutcome[] = [];
  for (const phase of phases) {
    const o = await runPhase(phase, ctx, opts, progress);
    outcomes.push(o);
    const failed = o.hosts.filter((h) => h.status === "failed");
    if (failed.length) {
      const culprit = (h: HostOutcome) => h.blame ?? h.host;
      const lines = failed.map((h) => `  ${culprit(h)}: ${h.detail}${h.blame ? ` (while working from ${h.host})` : ""}`).join("\n");
      throw new PhaseFailure(
        `phase "${phase.name}" (${phase.title}) failed on ${[...new Set(failed.map(culprit))].join(", ")}:\n${lines}\n` +
          `Fix the cause and run install again: finished phases are checked and skipped, the run resumes at "${phase.name}".`,
        outcomes,
      );
    }
    await onPhaseDone?.(o);
  }
  return outcomes;
}

export class PhaseFailure extends InstallError {
  constructor(message: string, readonly outcomes: PhaseOutcome[]) {
    super(message);
  }
}
