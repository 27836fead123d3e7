// Waiting until something is ready: a poll with a deadline, and the apiserver's own readiness answer.
import type { Host } from "../hosts/host.ts";
import { sh } from "../util/sh.ts";
import { CA_CRT } from "./endpoints.ts";

/**
 * How often a wait asks. Every poll we overshoot costs half an interval on average, on the install's
 * critical path: a check that is one command on a node (curl, chronyc) asks every 500 ms; one that runs
 * kubectl on master1 (a process of its own, heavier on a busy master1) every second.
 */
export const POLL_MS = 500;
export const KUBECTL_POLL_MS = 1000;

/** Poll until ok() or the deadline; the error names what was awaited. */
export async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs: number, everyMs = POLL_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return;
    await Bun.sleep(everyMs);
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
}

/**
 * /readyz answers "ok" at this URL, asked from `host` and checked against the cluster CA (so the
 * apiserver's certificate must carry that address).
 */
export async function readyAt(host: Host, url: string): Promise<boolean> {
  const r = await host.exec(sh`curl -sf --max-time 3 --cacert ${CA_CRT} ${`${url}/readyz`}`, { check: false, timeoutMs: 10_000 });
  return r.code === 0 && r.stdout.trim() === "ok";
}
