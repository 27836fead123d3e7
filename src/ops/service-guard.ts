// Stops services for a drill and guarantees they run again afterwards: every stop is recorded
// before it is attempted, and restoreAll() (called from finally and from signal handlers) starts
// each one again and checks that it is active.
import type { Host } from "../hosts/host.ts";
import { sh } from "../util/sh.ts";

interface Stopped {
  node: string;
  host: Host;
  unit: string;
}

export interface RestoreOutcome {
  node: string;
  unit: string;
  ok: boolean;
  error?: string;
}

export class ServiceGuard {
  private readonly stopped: Stopped[] = [];
  private restoring: Promise<RestoreOutcome[]> | undefined;

  async stop(node: string, host: Host, unit: string): Promise<void> {
    if (!this.stopped.some((s) => s.node === node && s.unit === unit)) this.stopped.push({ node, host, unit });
    await host.exec(sh`systemctl stop ${unit}`, { timeoutMs: 30_000 });
  }

  async start(node: string, unit: string): Promise<void> {
    const i = this.stopped.findIndex((s) => s.node === node && s.unit === unit);
    if (i < 0) throw new Error(`${unit} on ${node} was not stopped by this drill`);
    await startActive(this.stopped[i]!);
    this.stopped.splice(i, 1);
  }

  /** What is still stopped, as "unit on node". */
  pending(): string[] {
    return this.stopped.map((s) => `${s.unit} on ${s.node}`);
  }

  /** Start everything still stopped; safe to call more than once and concurrently (one pass runs). */
  restoreAll(): Promise<RestoreOutcome[]> {
    this.restoring ??= (async () => {
      const outcomes = await Promise.all(
        this.stopped.map(async (s) => {
          try {
            await startActive(s);
            return { node: s.node, unit: s.unit, ok: true };
          } catch (err) {
            return { node: s.node, unit: s.unit, ok: false, error: err instanceof Error ? err.message : String(err) };
          }
        }),
      );
      this.stopped.splice(0, this.stopped.length, ...this.stopped.filter((s) => outcomes.some((o) => !o.ok && o.node === s.node && o.unit === s.unit)));
      this.restoring = undefined;
      return outcomes;
    })();
    return this.restoring;
  }
}

async function startActive(s: Stopped): Promise<void> {
  await s.host.exec(sh`systemctl start ${s.unit}`, { timeoutMs: 30_000 });
  const r = await s.host.exec(sh`systemctl is-active ${s.unit}`, { check: false, timeoutMs: 10_000 });
  if (r.stdout.trim() !== "active") throw new Error(`${s.unit} on ${s.node} is ${r.stdout.trim() || "not active"} after systemctl start`);
}
