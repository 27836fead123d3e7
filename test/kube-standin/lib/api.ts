// A small Kubernetes API client over TLS (CA-verified, client cert or bearer token), used by
// kubeadm, kubelet and kubectl of the stand-in alike.
import type { Client } from "./kubeconfig.ts";

export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly reason?: string) {
    super(message);
    this.name = "ApiError";
  }
}

export interface CallOptions { insecure?: boolean; timeoutMs?: number; headers?: Record<string, string> }

export async function call<T = any>(c: Client, method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
  if (body !== undefined) headers["content-type"] = method === "PATCH" ? "application/merge-patch+json" : "application/json";
  if (c.token) headers.authorization = `Bearer ${c.token}`;
  const tls = opts.insecure ? { rejectUnauthorized: false } : { ca: c.ca, cert: c.cert, key: c.key };
  let res: Response;
  try {
    res = await fetch(c.server + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), tls,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    } as RequestInit);
  } catch (e) {
    const host = c.server.replace(/^https:\/\//, "");
    const why = (e as Error).message;
    if (/refused|ECONNREFUSED/i.test(why)) throw new ApiError(`The connection to the server ${host} was refused - did you specify the right host or port?`, 0);
    throw new ApiError(`Get "${c.server}${path}": ${why}`, 0);
  }
  const text = await res.text();
  let json: any = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) throw new ApiError(json?.message ?? `${res.status} ${text.trim()}`, res.status, json?.reason);
  return (json ?? text) as T;
}

/** Retry until `fn` resolves or the deadline passes; the last error is rethrown. */
export async function retry<T>(fn: () => Promise<T>, timeoutMs: number, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() + everyMs > deadline) throw e;
      await Bun.sleep(everyMs);
    }
  }
}
