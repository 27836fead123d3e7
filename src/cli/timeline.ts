// The install's timeline: when each phase ran on each node, how long its check and its work took, and
// the critical path (phases run one after the other, so a phase lasts as long as its slowest node:
// that node is where the time went). Built from the runner's outcomes (src/phases/runner.ts records
// start, check and total per node); `install --timings FILE` writes it as JSON and prints the table,
// every install's log ends with the table.
import type { HostStatus, PhaseOutcome } from "../phases/runner.ts";

export interface TimelineHost {
  host: string;
  status: HostStatus;
  /** Milliseconds from the start of the run to this node's check. */
  startMs: number;
  checkMs: number;
  /** The work after the check (0 when there was nothing to do). */
  runMs: number;
  ms: number;
}

export interface TimelinePhase {
  name: string;
  title: string;
  startMs: number;
  ms: number;
  /** From this phase's end to the next one's start: recording the phase and replicating the state. */
  afterMs: number;
  hosts: TimelineHost[];
  /** The node that held the phase longest (none when no node was reached). */
  slowest?: { host: string; ms: number };
}

export interface Timeline {
  /** When the first phase started (ISO 8601). */
  started: string;
  /** First phase start to last phase end. */
  totalMs: number;
  phases: TimelinePhase[];
  /** Every phase's slowest node, longest first, with its share of the total. */
  criticalPath: { phase: string; host: string; ms: number; share: number }[];
}

export function buildTimeline(outcomes: readonly PhaseOutcome[]): Timeline {
  const origin = outcomes[0]?.start ?? Date.now();
  const last = outcomes[outcomes.length - 1];
  const totalMs = last ? last.start + last.ms - origin : 0;
  const phases = outcomes.map((o, i): TimelinePhase => {
    const next = outcomes[i + 1];
    const hosts = o.hosts.map((h): TimelineHost => ({
      host: h.host,
      status: h.status,
      startMs: h.start - origin,
      checkMs: h.checkMs,
      runMs: h.status === "done" || h.status === "failed" ? Math.max(0, h.ms - h.checkMs) : 0,
      ms: h.ms,
    }));
    const reached = hosts.filter((h) => h.status !== "not reached");
    const top = reached.reduce<TimelineHost | undefined>((a, h) => (!a || h.ms > a.ms ? h : a), undefined);
    return {
      name: o.name,
      title: o.title,
      startMs: o.start - origin,
      ms: o.ms,
      afterMs: next ? Math.max(0, next.start - (o.start + o.ms)) : 0,
      hosts,
      ...(top ? { slowest: { host: top.host, ms: top.ms } } : {}),
    };
  });
  const criticalPath = phases
    .filter((p) => p.slowest)
    .map((p) => ({ phase: p.name, host: p.slowest!.host, ms: p.ms, share: totalMs > 0 ? p.ms / totalMs : 0 }))
    .sort((a, b) => b.ms - a.ms);
  return { started: new Date(origin).toISOString(), totalMs, phases, criticalPath };
}

const s = (ms: number) => (ms / 1000).toFixed(1);

function spread(hosts: readonly TimelineHost[]): string {
  const ms = hosts.filter((h) => h.status !== "not reached").map((h) => h.ms).sort((a, b) => a - b);
  if (!ms.length) return "-";
  return `${ms.length}: ${s(ms[0]!)} / ${s(ms[Math.floor((ms.length - 1) / 2)]!)} / ${s(ms[ms.length - 1]!)}`;
}

/** The timeline as a table (seconds), the time spent between phases and the critical path. */
export function timelineTable(t: Timeline, top = 5): string {
  const header = ["PHASE", "START", "TIME", "SLOWEST NODE", "ITS CHECK", "ITS RUN", "NODES: MIN / MEDIAN / MAX"];
  const rows = t.phases.map((p) => {
    const slow = p.hosts.find((h) => h.host === p.slowest?.host);
    return [p.name, s(p.startMs), s(p.ms), slow ? `${slow.host} ${s(slow.ms)}` : "-", slow ? s(slow.checkMs) : "-", slow ? s(slow.runMs) : "-", spread(p.hosts)];
  });
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 1 || i === 2 || i === 4 || i === 5 ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join("  ").trimEnd();
  const between = t.phases.reduce((a, p) => a + p.afterMs, 0);
  const path = t.criticalPath.slice(0, top).map((c) => `${c.phase} on ${c.host} ${s(c.ms)} s (${Math.round(c.share * 100)}%)`);
  return [
    `timeline of ${t.phases.length} phase(s), ${s(t.totalMs)} s from ${t.started} (seconds):`,
    line(header),
    ...rows.map(line),
    `between phases (recording each phase, replicating the state): ${s(between)} s`,
    `critical path: ${path.length ? path.join(", ") : "-"}`,
  ].join("\n");
}
