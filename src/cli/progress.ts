// Live progress: on a TTY one status line rewritten in place (phase, hosts at work, elapsed);
// otherwise plain lines, one per host result, so logs and CI stay readable. Every other line written
// while the status line is up goes through print(), which clears the status line first and redraws it
// after: a log line never lands glued to the end of the status line.
import type { PhaseOutcome, PhaseProgress } from "../phases/runner.ts";
import { paint, useColor } from "./color.ts";

export interface Progress extends PhaseProgress {
  /** Writes text (whole lines) above the status line. */
  print(text: string): void;
  /** Stops redrawing and clears the status line (before the summary or an error is printed). */
  stop(): void;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/** Longest per-host detail shown under a phase; the whole text is in the log file. */
export const DETAIL_WIDTH = 100;

/** One line of at most `width` characters: the first line of `text`, cut with "… (+N more)" when it lists more. */
export function shortDetail(text: string, width = DETAIL_WIDTH): string {
  const first = text.split("\n")[0]!;
  if (first.length <= width) return first;
  const parts = first.split(/(?:, |; )/);
  let shown = "";
  let n = 0;
  for (const p of parts) {
    const next = shown ? `${shown}, ${p}` : p;
    if (next.length > width - 14) break;
    shown = next;
    n++;
  }
  if (n === 0) return `${first.slice(0, width - 1)}…`;
  return `${shown} … (+${parts.length - n} more)`;
}

export function hostLine(h: Pick<PhaseOutcome["hosts"][number], "host" | "status" | "detail" | "blame" | "ms">): string {
  // A "done" host's detail is what its check found before the work: shown as such, not as the result.
  // A failure's text is printed once, in full, by the error that follows the phase: here only where.
  const detail = !h.detail
    ? ""
    : h.status === "done"
      ? ` (was: ${shortDetail(h.detail)})`
      : h.status === "failed"
        ? h.blame ? ` (because of ${h.blame}, see below)` : " (see below)"
        : h.status === "skipped" ? `: ${shortDetail(h.detail)}` : "";
  return `    ${h.host.padEnd(12)} ${h.status}${detail}`;
}

export function createProgress(out: NodeJS.WriteStream = process.stderr, tty = Boolean(out.isTTY), color = useColor(out)): Progress {
  const active = new Map<string, number>();
  const p = paint(color && tty);
  let phase = "";
  let phaseStart = 0;
  let shown = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  const clear = () => {
    if (tty && shown) out.write("\r\x1b[2K");
    shown = false;
  };
  const draw = () => {
    if (!tty || !phase) return;
    const now = performance.now();
    const hosts = [...active].map(([h, t]) => `${h} ${secs(now - t)}`).join(", ");
    clear();
    out.write(`▸ ${phase} ${secs(now - phaseStart)}${hosts ? `  [${hosts}]` : ""}`.slice(0, (out.columns ?? 120) - 1));
    shown = true;
  };
  const print = (text: string) => {
    clear();
    out.write(text.endsWith("\n") ? text : `${text}\n`);
    draw();
  };
  return {
    print,
    phaseStarted(name, title) {
      phase = name;
      phaseStart = performance.now();
      if (tty) {
        timer ??= setInterval(draw, 200);
        draw();
      } else out.write(`==> ${name}: ${title}\n`);
    },
    hostStarted(_p, host) {
      active.set(host, performance.now());
    },
    hostFinished(_p, host) {
      active.delete(host);
    },
    phaseFinished(o) {
      clear();
      phase = "";
      const failed = o.hosts.some((h) => h.status === "failed");
      out.write(`${failed ? p.bad("✗") : p.ok("✓")} ${o.name.padEnd(20)} ${secs(o.ms).padStart(7)}\n`);
      for (const h of o.hosts) out.write(`${hostLine(h)}\n`);
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      phase = "";
      clear();
    },
  };
}

/** Summary table printed at the end of install: time per phase and what happened. */
export function summaryTable(outcomes: readonly PhaseOutcome[]): string {
  const count = (o: PhaseOutcome, s: string) => o.hosts.filter((h) => h.status === s).length;
  const rows = outcomes.map((o) => {
    const parts = (["done", "nothing to do", "skipped", "failed", "not reached"] as const)
      .map((s) => [s, count(o, s)] as const)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s}`);
    return `${o.name.padEnd(20)} ${secs(o.ms).padStart(8)}  ${parts.join(", ")}`;
  });
  const total = outcomes.reduce((a, o) => a + o.ms, 0);
  return [`${"PHASE".padEnd(20)} ${"TIME".padStart(8)}  HOSTS`, ...rows, `${"total".padEnd(20)} ${secs(total).padStart(8)}`].join("\n");
}
