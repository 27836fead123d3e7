// The cluster's state lives in the external etcd, reached through etcd's v3 JSON gateway with the
// client certificate kubeadm was given. Every apiserver instance therefore sees the same state.
import fs from "node:fs";
import { rooted } from "./env.ts";

export const PREFIX = "/registry/standin/";

export interface EtcdTls { caFile: string; certFile: string; keyFile: string }

const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64").toString();

/** One past the last key with this prefix, as etcd range_end wants. */
function prefixEnd(p: string): string {
  const b = Buffer.from(p);
  b[b.length - 1]!++;
  return b.toString();
}

/** One attempt while other endpoints remain; a black-holed member must not outlast haproxy's check. */
const ATTEMPT_TIMEOUT_MS = 1_000;
/** The last endpoint left (or every one down): as long as a request may take. */
const CALL_TIMEOUT_MS = 5_000;

/** Up, or down with a background re-probe at a growing interval (1 s, x1.6, at most 30 s). */
class EndpointHealth {
  isUp = true;
  private backoffMs = 1_000;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Mark it down; false when it already was (its probe is scheduled). */
  down(): boolean {
    if (!this.isUp) return false;
    this.isUp = false;
    return true;
  }
  up(): void {
    this.isUp = true;
    this.backoffMs = 1_000;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
  retryLater(probe: () => void): void {
    if (this.isUp) return;
    this.timer = setTimeout(probe, this.backoffMs);
    this.timer.unref?.();
    this.backoffMs = Math.min(this.backoffMs * 1.6, 30_000);
  }
}

export class Etcd {
  private tls: { ca: string; cert: string; key: string };
  constructor(readonly endpoints: string[], files: EtcdTls) {
    const read = (f: string, what: string) => {
      try {
        return fs.readFileSync(rooted(f), "utf8");
      } catch {
        throw new Error(`etcd ${what} ${f} cannot be read`);
      }
    };
    this.tls = { ca: read(files.caFile, "CA file"), cert: read(files.certFile, "client certificate"), key: read(files.keyFile, "client key") };
    this.health = new Map(endpoints.map((ep) => [ep, new EndpointHealth()]));
  }

  /** GET a path of one endpoint (e.g. /health, /version) with the client certificate. */
  async get(endpoint: string, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
    const res = await fetch(endpoint + path, { tls: this.tls, signal: AbortSignal.timeout(timeoutMs) } as RequestInit);
    return { status: res.status, body: await res.text() };
  }

  /**
   * POST to the gateway the way etcd's Go client balances: round-robin over the endpoints that are
   * up; an endpoint that failed is left out (re-probed in the background with growing back-off,
   * as gRPC reconnects a subconnection) so a dead or black-holed member costs one short attempt,
   * not every request. Only when every endpoint is down are they all tried again, the last one
   * with the full timeout: no quorum still fails, as the real apiserver's storage does.
   */
  private async call(path: string, body: object): Promise<any> {
    const order = this.pickOrder();
    let last: unknown;
    for (const [i, ep] of order.entries()) {
      const lastChance = i === order.length - 1;
      try {
        const res = await fetch(ep + path, {
          method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" },
          tls: this.tls, signal: AbortSignal.timeout(lastChance ? CALL_TIMEOUT_MS : ATTEMPT_TIMEOUT_MS),
        } as RequestInit);
        const text = await res.text();
        if (!res.ok) throw new Error(`etcd ${ep}${path}: ${res.status} ${text.trim()}`);
        this.health.get(ep)!.up();
        return JSON.parse(text);
      } catch (e) {
        last = e;
        this.markDown(ep);
      }
    }
    throw new Error(`no etcd endpoint answered (${this.endpoints.join(", ")}): ${(last as Error)?.message}`);
  }

  private readonly health: Map<string, EndpointHealth>;
  private next = 0;

  /** Endpoints that are up, starting at the next in turn; then the ones that are down. */
  private pickOrder(): string[] {
    const n = this.endpoints.length;
    const start = this.next++ % n;
    const rotated = this.endpoints.map((_, i) => this.endpoints[(start + i) % n]!);
    const up = rotated.filter((ep) => this.health.get(ep)!.isUp);
    return up.length ? up : rotated;
  }

  private markDown(ep: string): void {
    const h = this.health.get(ep)!;
    if (!h.down()) return; // a probe is already scheduled
    const probe = () =>
      fetch(ep + "/version", { tls: this.tls, signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) } as RequestInit)
        .then((r) => (r.ok ? h.up() : Promise.reject(new Error(String(r.status)))))
        .catch(() => h.retryLater(probe));
    h.retryLater(probe);
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.call("/v3/kv/put", { key: b64(PREFIX + key), value: b64(JSON.stringify(value)) });
  }

  async get1<T = any>(key: string): Promise<T | null> {
    const r = await this.call("/v3/kv/range", { key: b64(PREFIX + key) });
    const kv = r.kvs?.[0];
    return kv ? (JSON.parse(unb64(kv.value)) as T) : null;
  }

  /** Every value under a prefix, keyed by the rest of the key. */
  async list<T = any>(prefix: string): Promise<Map<string, T>> {
    const full = PREFIX + prefix;
    const r = await this.call("/v3/kv/range", { key: b64(full), range_end: b64(prefixEnd(full)) });
    return new Map((r.kvs ?? []).map((kv: any) => [unb64(kv.key).slice(full.length), JSON.parse(unb64(kv.value)) as T]));
  }

  /**
   * Read-modify-write with optimistic concurrency (the apiserver's resourceVersion check): the put only
   * lands if nobody wrote the key since it was read; otherwise read again and retry.
   */
  async update<T = any>(key: string, change: (old: T | null) => T): Promise<T> {
    const k = b64(PREFIX + key);
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await this.call("/v3/kv/range", { key: k });
      const kv = r.kvs?.[0];
      const next = change(kv ? (JSON.parse(unb64(kv.value)) as T) : null);
      const t = await this.call("/v3/kv/txn", {
        compare: [{ key: k, target: "MOD", result: "EQUAL", mod_revision: kv?.mod_revision ?? "0" }],
        success: [{ request_put: { key: k, value: b64(JSON.stringify(next)) } }],
      });
      if (t.succeeded) return next;
    }
    throw new Error(`etcd: ${key} kept changing under concurrent writers`);
  }

  async del(key: string, isPrefix = false): Promise<number> {
    const full = PREFIX + key;
    const r = await this.call("/v3/kv/deleterange", { key: b64(full), ...(isPrefix ? { range_end: b64(prefixEnd(full)) } : {}) });
    return Number(r.deleted ?? 0);
  }
}
