// The failover drill behind `verify --failover`: with a steady stream of requests to the VIP,
// stop haproxy on the VIP holder, measure how long until the VIP sits on another node and
// requests succeed again, start it again and measure the return; then the same with keepalived.
// Pure orchestration over Host; whatever it stopped is started again however it ends.
import { RequestStream, type SendRequest } from "./requests.ts";
import { ServiceGuard, type RestoreOutcome } from "./service-guard.ts";
import { vipHolders, type NamedHost } from "./vip.ts";
import { textTable } from "./table.ts";

export type DrillUnit = "haproxy" | "keepalived";

export interface FailoverBudgets {
  /** Seconds each haproxy event (stop, return) may take. */
  haproxy: number;
  /** Seconds each keepalived event (stop, return) may take. */
  keepalived: number;
}

export const DEFAULT_BUDGETS: FailoverBudgets = { haproxy: 10, keepalived: 4 };

/**
 * What a return (the unit started again, the VIP back on its node) may take beyond the unit's budget:
 * keepalived's deliberate hold-off. Its checks start failed (init_fail) and must pass twice one second
 * apart (rise 2, interval 1), then the holder's next advert (advert_int 1) lets the node preempt: about
 * 3 s in which nothing is down (the VIP is served by the other node), measured 3.5-3.9 s in all on the lab.
 * See assets/keepalived/keepalived.conf.
 */
export const RETURN_HOLDOFF_SECONDS = 3;

export interface FailoverOptions {
  /** The control-plane nodes (the VIP candidates). */
  nodes: NamedHost[];
  vip: string;
  /** keepalived's nopreempt: the VIP stays where it went when the old holder comes back. */
  nopreempt: boolean;
  budgets: FailoverBudgets;
  /** One request through the VIP; throws when it fails. */
  send: SendRequest;
  requestsPerSecond: number;
  /** How often the VIP holder is looked up. Default 200 ms. */
  pollMs?: number;
  /** Failures are still counted to an event this long after it recovered. Default 2 s. */
  settleSeconds?: number;
  /** Added to a return's budget. Default RETURN_HOLDOFF_SECONDS. */
  returnHoldoffSeconds?: number;
  /** Longest wait for one event to recover. Default eventWaitSeconds(budget). */
  maxEventSeconds?: number;
  /** How long to wait for one VIP holder and a good request before starting. Default 60 s. */
  steadySeconds?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Pass one in to restore from elsewhere as well (signal handlers). */
  guard?: ServiceGuard;
}

export interface FailoverRow {
  event: string;
  unit: DrillUnit;
  action: "stop" | "start";
  node: string;
  /** VIP holder when the event began and when it had recovered (or was last seen). */
  before: string | null;
  after: string | null;
  /** Seconds from the systemctl command until the VIP sat where expected and a request succeeded; null: never within the wait. */
  seconds: number | null;
  failed: number;
  sent: number;
  budget: number;
  withinBudget: boolean;
  note?: string;
}

export interface FailoverReport {
  rows: FailoverRow[];
  /** Every event recovered within its budget and everything stopped runs again. */
  ok: boolean;
  restored: RestoreOutcome[];
  /** Why the drill stopped early, if it did. */
  error?: string;
}

export class DrillError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DrillError";
  }
}

/** Longest wait for one event: well past its budget, so an over-budget figure is still measured. */
export const eventWaitSeconds = (budget: number) => Math.max(budget * 3, budget + 20);

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal!.reason instanceof Error ? signal!.reason : new DrillError(`interrupted (${String(signal!.reason ?? "abort")})`));
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export async function runFailoverDrill(opts: FailoverOptions): Promise<FailoverReport> {
  const pollMs = opts.pollMs ?? 200;
  const settleMs = (opts.settleSeconds ?? 2) * 1000;
  const log = opts.log ?? (() => {});
  const guard = opts.guard ?? new ServiceGuard();
  const byName = new Map(opts.nodes.map((n) => [n.name, n]));
  const units: DrillUnit[] = ["haproxy", "keepalived"];
  const steadySeconds = opts.steadySeconds ?? 60;
  const holdoff = opts.returnHoldoffSeconds ?? RETURN_HOLDOFF_SECONDS;
  const budgetOf = (unit: DrillUnit, action: "stop" | "start") => opts.budgets[unit] + (action === "start" ? holdoff : 0);
  const waitFor = (budget: number) => opts.maxEventSeconds ?? eventWaitSeconds(budget);
  const maxSeconds =
    steadySeconds * units.length + units.reduce((a, u) => a + waitFor(budgetOf(u, "stop")) + waitFor(budgetOf(u, "start")) + 2 * (settleMs / 1000 + 5), 0) + 30;
  const stream = new RequestStream(opts.send, {
    requestsPerSecond: opts.requestsPerSecond,
    maxSeconds,
    maxRequests: Math.ceil(opts.requestsPerSecond * maxSeconds),
  });
  const rows: FailoverRow[] = [];
  let error: string | undefined;
  let restored: RestoreOutcome[] = [];

  const holders = () => vipHolders(opts.nodes, opts.vip, 5_000);
  const sleep = (ms: number) => abortableSleep(ms, opts.signal);

  /** One VIP holder and a request started after it was seen that succeeded. */
  async function steadyHolder(): Promise<string> {
    const deadline = performance.now() + steadySeconds * 1000;
    let seen: string[] = [];
    while (performance.now() < deadline) {
      const polledAt = performance.now();
      seen = (await holders()).holders;
      if (seen.length === 1) {
        while (performance.now() < Math.min(deadline, polledAt + 5_000)) {
          if (stream.firstSuccessFrom(polledAt)) return seen[0]!;
          await sleep(pollMs);
        }
      }
      await sleep(pollMs);
    }
    const last = stream.records.at(-1);
    throw new DrillError(
      `no steady state to start from within ${steadySeconds} s: VIP ${opts.vip} on ${seen.length ? seen.join(" and ") : "no node"}` +
        (last && !last.ok ? `, last request failed: ${last.error}` : ""),
    );
  }

  async function measure(unit: DrillUnit, action: "stop" | "start", node: string, expected: (holder: string) => boolean): Promise<FailoverRow> {
    const budget = budgetOf(unit, action);
    const event = `${unit} ${action === "stop" ? "stopped" : "started"} on ${node}`;
    const before = (await holders()).holders.join("+") || null;
    log(`${event} ...`);
    const t0 = performance.now();
    // Polled while systemctl works, not after it returns: keepalived hands the VIP over (a priority-0
    // advert) as its shutdown begins and exits about a second later, so awaiting the stop first would
    // clock systemctl instead of the VIP.
    let actionError: unknown;
    const acted = (action === "stop" ? guard.stop(node, byName.get(node)!.host, `${unit}.service`) : guard.start(node, `${unit}.service`))
      .catch((err) => void (actionError = err));
    const deadline = t0 + waitFor(budget) * 1000;
    let movedAt: number | undefined;
    let after: string | null = null;
    let recovered: number | undefined;
    while (performance.now() < deadline && actionError === undefined) {
      const polledAt = performance.now();
      const now = (await holders()).holders;
      after = now.join("+") || null;
      // The VIP has to stay put: if it leaves the expected node again, the clock for "moved" restarts.
      if (now.length === 1 && expected(now[0]!)) movedAt ??= polledAt;
      else movedAt = undefined;
      const ok = movedAt === undefined ? undefined : stream.firstSuccessFrom(movedAt);
      if (ok) {
        recovered = Math.max(ok.end, movedAt!);
        break;
      }
      await sleep(pollMs);
    }
    await acted;
    if (actionError !== undefined) throw actionError;
    if (recovered !== undefined) await sleep(settleMs);
    const window = stream.between(t0, recovered === undefined ? performance.now() : recovered + settleMs);
    const seconds = recovered === undefined ? null : (recovered - t0) / 1000;
    const row: FailoverRow = {
      event,
      unit,
      action,
      node,
      before,
      after,
      seconds,
      failed: window.filter((r) => !r.ok).length,
      sent: window.length,
      budget,
      withinBudget: seconds !== null && seconds <= budget,
    };
    if (seconds === null) row.note = `not recovered within ${waitFor(budget)} s (VIP on ${after ?? "no node"})`;
    log(`${event}: ${seconds === null ? "not recovered" : `${seconds.toFixed(2)} s`}, ${row.failed}/${row.sent} requests failed`);
    return row;
  }

  try {
    stream.start();
    for (const unit of units) {
      const holder = await steadyHolder();
      const stopped = await measure(unit, "stop", holder, (h) => h !== holder);
      rows.push(stopped);
      // With preemption the restarted node, having the highest priority, takes the VIP back.
      const back = await measure(unit, "start", holder, opts.nopreempt ? () => true : (h) => h === holder);
      rows.push(back);
      if (stopped.seconds === null || back.seconds === null) {
        error = `the drill stopped after ${unit}: ${(stopped.note ?? back.note)!}`;
        break;
      }
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  } finally {
    await stream.stop();
    restored = await guard.restoreAll();
  }
  const ok = !error && rows.length === units.length * 2 && rows.every((r) => r.withinBudget) && restored.every((r) => r.ok);
  return { rows, ok, restored, error };
}

const fmtHolder = (h: string | null) => h ?? "(none)";

export function renderFailoverTable(report: FailoverReport): string {
  const body = report.rows.map((r) => [
    r.event,
    `${fmtHolder(r.before)} → ${fmtHolder(r.after)}`,
    r.seconds === null ? "-" : r.seconds.toFixed(2),
    `${r.failed}/${r.sent}`,
    `${r.budget}`,
    r.withinBudget ? "ok" : r.seconds === null ? "NOT RECOVERED" : "OVER BUDGET",
  ]);
  const out = [textTable(["EVENT", "VIP HOLDER BEFORE → AFTER", "SECONDS", "FAILED/SENT", "BUDGET S", "RESULT"], body)];
  for (const r of report.rows) if (r.note) out.push(`  ${r.event}: ${r.note}`);
  if (report.error) out.push("", `drill stopped: ${report.error}`);
  for (const r of report.restored) out.push(r.ok ? `restored: ${r.unit} on ${r.node} is active again` : `NOT RESTORED: ${r.unit} on ${r.node}: ${r.error} — run: systemctl start ${r.unit} on ${r.node}`);
  out.push("", report.ok ? "failover: every event within its budget, nothing left stopped" : "failover: FAILED (see above)");
  return out.join("\n") + "\n";
}
