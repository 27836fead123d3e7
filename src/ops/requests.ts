// A steady, bounded stream of requests, each on a fresh TLS connection, so that the figures say what
// a client connecting during a failover sees (a kept-alive connection would hide the VIP move).

/** One request's outcome; times are performance.now() milliseconds. */
export interface RequestRecord {
  start: number;
  end: number;
  ok: boolean;
  error?: string;
}

export type SendRequest = () => Promise<void>;

export interface StreamLimits {
  requestsPerSecond: number;
  /** Hard caps: the stream stops by itself at whichever comes first. */
  maxRequests: number;
  maxSeconds: number;
}

/**
 * Fires `send` at a fixed rate without waiting for earlier requests (a hung request must not slow
 * the stream down), and records every outcome. Requests in flight are bounded by the rate times
 * the request timeout, which the sender enforces.
 */
export class RequestStream {
  readonly records: RequestRecord[] = [];
  private timer: Timer | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private startedAt = 0;
  private sent = 0;

  constructor(
    private readonly send: SendRequest,
    private readonly limits: StreamLimits,
  ) {
    if (!(limits.requestsPerSecond > 0)) throw new Error("requestsPerSecond must be > 0");
  }

  start(): void {
    if (this.timer) return;
    this.startedAt = performance.now();
    const tick = () => this.fire();
    tick();
    this.timer = setInterval(tick, 1000 / this.limits.requestsPerSecond);
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  private fire(): void {
    if (this.sent >= this.limits.maxRequests || performance.now() - this.startedAt > this.limits.maxSeconds * 1000) return this.halt();
    this.sent++;
    const start = performance.now();
    const p = this.send().then(
      () => void this.records.push({ start, end: performance.now(), ok: true }),
      (err) => void this.records.push({ start, end: performance.now(), ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private halt(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stop sending and wait for the requests still in flight. */
  async stop(): Promise<void> {
    this.halt();
    await Promise.all([...this.inFlight]);
  }

  /** Requests started in [from, to] (to open-ended when omitted). */
  between(from: number, to = Infinity): RequestRecord[] {
    return this.records.filter((r) => r.start >= from && r.start <= to);
  }

  /** The earliest-started successful request that started at or after `t`. */
  firstSuccessFrom(t: number): RequestRecord | undefined {
    let best: RequestRecord | undefined;
    for (const r of this.records) if (r.ok && r.start >= t && (!best || r.start < best.start)) best = r;
    return best;
  }
}

/** GET url with the cluster CA as the only trust anchor, a new connection each time; throws unless 200. */
export function readyzRequest(url: string, caPem: string, timeoutMs: number): SendRequest {
  return async () => {
    const res = await fetch(url, {
      keepalive: false,
      signal: AbortSignal.timeout(timeoutMs),
      tls: { ca: caPem },
    } as RequestInit);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`HTTP ${res.status} ${body.trim().slice(0, 80)}`);
  };
}
