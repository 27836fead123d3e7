// The depot: one read-only HTTPS server on master1 that gives the nodes everything the air-gapped
// install needs from the bundle — an OCI registry (/v2/), the package repository (/repo/<profile>/)
// and plain files (/files/<name>). Started by `serve` and by `install`. With a serving certificate it
// speaks only TLS (what every node is given); with the repository key it signs the package repositories
// at start (see http/signed-repo.ts). Without either (`serve` for local use) it is plain, unsigned HTTP.
import { realpathSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { InstallError, UsageError } from "../util/errors.ts";
import type { Logger, RunLogger } from "../util/log.ts";
import { createHandler, internalError, type AccessSinks } from "./http/handler.ts";
import type { DepotTls, FromWorker, ToWorker } from "./http/serve-worker.ts";
import { signRepositories } from "./http/signed-repo.ts";
import { loadImageStore } from "./registry/store.ts";
import { endpointHostPort, type DepotEndpoint } from "./endpoint.ts";

export interface DepotServerOptions {
  /** The bundle directory (lock.json, repo/, files/, images/). */
  bundleDir: string;
  /** Where to listen; address 0.0.0.0 for every interface. */
  listen: DepotEndpoint;
  log: Logger;
  /**
   * The level of the access lines of answered requests: "debug" (default: made only when a debug line goes
   * somewhere, -v or a log file; at most OK_LINES_PER_SECOND a second per serving thread), "info", or
   * "off" (no access line at all).
   * Refused and failed requests (4xx at info, 5xx as warnings) are logged unless "off".
   */
  accessLog?: "info" | "debug" | "off";
  /** Serving threads sharing the port; default one per core, at most 4. */
  threads?: number;
  /** Serve HTTPS only, with this certificate (chain) and key, PEM. Without it: plain HTTP. */
  tls?: DepotTls;
  /** The repository signing key (armored private key): InRelease, Release.gpg and repomd.xml.asc are served. */
  repoKey?: string;
}

export interface DepotServer {
  /** Base URL, e.g. https://192.168.217.19:5000 (no trailing slash). */
  url: string;
  /** Stop accepting connections, let requests in flight finish, then resolve. */
  stop(): Promise<void>;
  /** What the registry serves (for `serve` to print). */
  readonly repositories: string[];
}

export async function startDepotServer(opts: DepotServerOptions): Promise<DepotServer> {
  const { address: hostname, port } = opts.listen;
  const bundleRoot = realBundleDir(opts.bundleDir);
  const store = await loadImageStore(join(bundleRoot, "images"), opts.log);
  const access = accessSinks(opts);
  const threads = Math.max(1, Math.floor(opts.threads ?? defaultThreads()));
  const signed = opts.repoKey === undefined ? undefined : await signRepositories(bundleRoot, opts.repoKey).catch((e) => Promise.reject(new InstallError(`depot: ${(e as Error).message}`)));
  const tls = opts.tls;

  // Serving threads share the port with SO_REUSEPORT, which would also let a second depot join
  // silently; a plain bind first proves nobody (not even another depot) holds the port.
  if (threads > 1) {
    try {
      Bun.serve({ hostname, port, reusePort: false, fetch: () => new Response(null) }).stop(true);
    } catch (e) {
      throw listenError(e, opts.listen);
    }
  }
  let main: ReturnType<typeof Bun.serve>;
  try {
    main = Bun.serve({
      hostname,
      port,
      reusePort: threads > 1,
      development: false,
      ...(tls ? { tls } : {}),
      fetch: createHandler({ store, bundleRoot, access, signed }),
      error: (err) => internalError(err, (m) => opts.log.warn(m)),
    });
  } catch (e) {
    throw listenError(e, opts.listen);
  }
  const workers = await startWorkers(threads - 1, { type: "start", store, bundleRoot, hostname, port, accessLog: { ok: !!access.ok, failed: !!access.failed }, tls, signed }, opts.log, access);
  let stopping: Promise<void> | undefined;
  const url = `${tls ? "https" : "http"}://${endpointHostPort({ address: hostname, port: main.port ?? port })}`;
  const threadCount = 1 + workers.length;
  opts.log.info(
    `depot: serving ${bundleRoot} on ${url} (${store.repositories.size} image repositories, ${threadCount} serving thread${threadCount === 1 ? "" : "s"})`,
  );
  opts.log.info(signed ? `depot: package repositories signed (${Object.keys(signed).length} signature files)` : "depot: package repositories unsigned (no repository key given)");
  return {
    url,
    repositories: [...store.repositories.keys()].sort(),
    stop() {
      // Idempotent: install and the signal handler may both stop the depot.
      stopping ??= Promise.all([main.stop(false), ...workers.map(stopWorker)]).then(() => undefined);
      return stopping;
    },
  };
}

// In the compiled binary every module's import.meta.url is the entry's (src/cli.ts), and the worker
// is embedded only when build.ts lists src/depot/http/serve-worker.ts as an extra entrypoint.
const WORKER_ENTRY = import.meta.url.includes("/$bunfs/")
  ? "./depot/http/serve-worker.ts"
  : new URL("./http/serve-worker.ts", import.meta.url).href;

/** One serving thread per core, up to 4: the depot shares master1 with the installer and etcd. */
function defaultThreads(): number {
  return Math.min(availableParallelism(), 4);
}

/**
 * Every request used to be an info line: 2.25 million in one load run, each through the journal (and,
 * from a serving thread, a message to this one). Answered requests are now debug lines: in the depot
 * service's log file (--log-file; which node fetched what from which depot), not in the journal, made
 * only when a debug line goes somewhere, and at most OK_LINES_PER_SECOND a second per serving thread
 * (http/handler.ts). Refusals and errors keep their lines, where an operator looks.
 */
function accessSinks(opts: DepotServerOptions): AccessSinks {
  const level = opts.accessLog ?? "debug";
  if (level === "off") return {};
  const { log } = opts;
  const failed = (line: string, status: number) => (status >= 500 ? log.warn(line) : log.info(line));
  if (level === "info") return { ok: (line) => log.info(line), failed };
  return { ok: debugShown(log) ? (line) => log.debug(line) : undefined, failed };
}

/** Whether a debug line goes anywhere: a run logger says (verbose, or a log file); other loggers get them. */
function debugShown(log: Logger): boolean {
  const run = log as Partial<RunLogger>;
  return run.verbose === undefined ? true : run.verbose || run.logFile !== undefined;
}

interface ServingThread {
  worker: Worker;
  /** Settles when the thread has ended, whatever the reason. */
  closed: Promise<void>;
}

/** Start `count` serving threads. A thread that cannot start (e.g. a binary built without the worker entrypoint) is skipped: fewer threads still serve everything. */
async function startWorkers(count: number, start: ToWorker, log: Logger, access: AccessSinks): Promise<ServingThread[]> {
  const started = await Promise.all(Array.from({ length: count }, () => startWorker(start, log, access)));
  return started.filter((t): t is ServingThread => t !== undefined);
}

async function startWorker(start: ToWorker, log: Logger, access: AccessSinks): Promise<ServingThread | undefined> {
  let worker: Worker;
  try {
    worker = new Worker(WORKER_ENTRY);
  } catch (e) {
    log.debug(`depot: serving thread unavailable (${(e as Error).message}); serving on fewer threads`);
    return undefined;
  }
  const closed = new Promise<void>((resolve) => worker.addEventListener("close", () => resolve(), { once: true }));
  let running = false;
  const failure = await new Promise<string | undefined>((resolve) => {
    worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      const m = ev.data;
      if (m.type === "ready") {
        running = true;
        resolve(undefined);
      } else if (m.type === "failed") resolve(m.message);
      else if (m.type === "log") access.ok?.(m.line);
      else if (m.type === "failed-request") access.failed?.(m.line, m.status);
      else if (m.type === "warn") log.warn(m.line);
    };
    worker.onerror = (ev) => {
      // Before "ready" this is a failed start (reported below); later the kernel just stops giving the dead thread connections.
      if (running) log.warn(`depot: a serving thread failed: ${ev.message || "unknown error"}`);
      resolve(ev.message || "worker error");
    };
    worker.postMessage(start);
  });
  if (failure === undefined) return { worker, closed };
  log.debug(`depot: serving thread did not start (${failure}); serving on fewer threads`);
  worker.terminate();
  return undefined;
}

/** Ask a thread to stop (finishing its requests in flight), then end it. A thread that already died counts as stopped. */
async function stopWorker(thread: ServingThread): Promise<void> {
  const stopped = new Promise<void>((resolve) =>
    thread.worker.addEventListener("message", (ev: MessageEvent<FromWorker>) => ev.data.type === "stopped" && resolve()),
  );
  thread.worker.postMessage({ type: "stop" } satisfies ToWorker);
  await Promise.race([stopped, thread.closed]);
  thread.worker.terminate();
}

function realBundleDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    throw new UsageError(`depot: bundle directory ${dir} does not exist`, "pass --bundle DIR (the bundle-<profile> directory copied next to the binary)");
  }
}

function listenError(e: unknown, endpoint: DepotEndpoint): Error {
  const listen = endpointHostPort(endpoint);
  const code = (e as { code?: string }).code ?? "";
  const text = `${code} ${(e as Error).message}`;
  if (/EADDRINUSE|in use/i.test(text)) {
    return new InstallError(`depot: ${listen} is already in use by another process — stop it or set depot.port`);
  }
  if (/EADDRNOTAVAIL|not available/i.test(text)) {
    return new InstallError(`depot: cannot listen on ${listen}: that address is not on this machine — run on master1 or fix the listen address`);
  }
  if (/EACCES|permission/i.test(text)) {
    return new InstallError(`depot: not allowed to listen on ${listen} — run as root or use a port above 1023`);
  }
  return new InstallError(`depot: cannot listen on ${listen}: ${(e as Error).message}`);
}
