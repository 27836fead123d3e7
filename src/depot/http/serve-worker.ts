// A serving thread of the depot. Bun serves each thread's connections on one core; several
// threads bound to the same port (SO_REUSEPORT, the kernel spreads connections) let the depot use
// the machine's cores the way nginx's worker processes do. The main thread has loaded and verified
// the store; it arrives here as a structured clone.
// `bun build --compile` must list this file as an extra entrypoint (see build.ts).
import type { ImageStore } from "../registry/store.ts";
import { createHandler, internalError, type AccessSinks } from "./handler.ts";
import type { SignedFiles } from "./signed-repo.ts";

/** The serving certificate and key (PEM) when the depot serves HTTPS. */
export interface DepotTls {
  cert: string;
  key: string;
}

export type ToWorker =
  | { type: "start"; store: ImageStore; bundleRoot: string; hostname: string; port: number; accessLog: AccessWanted; tls?: DepotTls; signed?: SignedFiles }
  | { type: "stop" };

/** Which access lines the main thread will log: a thread makes and sends only those. */
export interface AccessWanted {
  ok: boolean;
  failed: boolean;
}

export type FromWorker =
  | { type: "ready" }
  | { type: "failed-request"; line: string; status: number }
  | { type: "failed"; message: string }
  | { type: "log"; line: string }
  | { type: "warn"; line: string }
  | { type: "stopped" };

declare const self: Worker;
const post = (m: FromWorker) => self.postMessage(m);
let server: ReturnType<typeof Bun.serve> | undefined;

self.onmessage = async (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  if (msg.type === "start") {
    try {
      server = Bun.serve({
        hostname: msg.hostname,
        port: msg.port,
        reusePort: true,
        development: false,
        ...(msg.tls ? { tls: msg.tls } : {}),
        fetch: createHandler({
          store: msg.store,
          bundleRoot: msg.bundleRoot,
          signed: msg.signed,
          access: {
            ok: msg.accessLog.ok ? (line) => post({ type: "log", line }) : undefined,
            failed: msg.accessLog.failed ? (line, status) => post({ type: "failed-request", line, status }) : undefined,
          } satisfies AccessSinks,
        }),
        error: (err) => internalError(err, (line) => post({ type: "warn", line })),
      });
      post({ type: "ready" });
    } catch (e) {
      post({ type: "failed", message: (e as Error).message });
    }
  } else if (msg.type === "stop") {
    await server?.stop(false);
    post({ type: "stopped" });
  }
};
