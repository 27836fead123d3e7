// Live progress: on a TTY one status line rewritten in place (phase, hosts at work, elapsed);
// otherwise plain lines, one per host result, so logs and CI stay readable.
import type { PhaseOutcome, PhaseProgress } from "../phases/runner.ts";

export interface Progress extends PhaseProgress {
  /** Stops redrawing and clears the status line (before the summary or an error is printed). */
  stop(): void;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export function createProgress(out: NodeJS.WriteStream = process.stderr, tty = Boolean(out.isTTY)): Progress {
  const active = new Map<string, number>();
  let phase = "";
  let phaseStart = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  const clear = () => tty && out.write("\r\x1b[2K");
  const draw = () => {
    if (!tty || !phase) return;
    const now = performance.now();
    const hosts = [...active].map(([h, t]) => `${h} ${secs(now - t)}`).join(", ");
    clear();
    out.write(`▸ ${phase} ${secs(now - phaseStart)}${hosts ? `  [${hosts}]` : ""}`.slice(0, (out.columns ?? 120) - 1));
  };
  return {
    phaseStarted(name, title) {
      phase = name;
      phaseStart = performance.now();
      if (tty) timer ??= setInterval(draw, 200);
      else out.write(`==> ${name}: ${title}\n`);
    },
    hostStarted(_p, host) {
      active.set(host, performance.now());
    },
    hostFinished(_p, host) {
      active.delete(host);
    },
    phaseFinished(o) {
      clear();
      const mark = o.hosts.some((h) => h.status === "failed") ? "✗" : "✓";
      out.write(`${mark} ${o.name.padEnd(20)} ${secs(o.ms).padStart(7)}\n`);
      for (const h of o.hosts) {
        const detail = h.detail ? `: ${h.detail.split("\n")[0]}` : "";
        out.write(`    ${h.host.padEnd(12)} ${h.status}${h.status === "done" || h.status === "failed" || h.status === "skipped" ? detail : ""}\n`);
      }
      phase = "";
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
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
