// The depot: one read-only HTTP server on master1 that gives the nodes everything the air-gapped
// install needs from the bundle — an OCI registry (/v2/), the package repository (/repo/<profile>/)
// and plain files (/files/<name>). Started by `serve` and by `install`.
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { InstallError, UsageError } from "../cli/errors.ts";
import type { Logger } from "../phases/phase.ts";
import { isBundleFilePath, plain, serveBundleFile } from "./http/bundle-files.ts";
import { registryError } from "./registry/errors.ts";
import { handleRegistry } from "./registry/routes.ts";
import { loadImageStore, type ImageStore } from "./registry/store.ts";

export interface DepotServerOptions {
  /** The bundle directory (lock.json, repo/, files/, images/). */
  bundleDir: string;
  /** "ADDR:PORT", "[v6addr]:PORT"; ADDR 0.0.0.0 for every interface. */
  listen: string;
  log: Logger;
  /** Where access log lines go; "info" (default) shows them on the terminal. */
  accessLog?: "info" | "debug" | "off";
}

export interface DepotServer {
  /** Base URL, e.g. http://192.168.217.19:5000 (no trailing slash). */
  url: string;
  /** Stop accepting connections, let requests in flight finish, then resolve. */
  stop(): Promise<void>;
  /** What the registry serves (for `serve` to print). */
  readonly repositories: string[];
}

/** Longest request URL accepted; real clients stay far below (the longest is a catalog page link). */
const MAX_URL_LENGTH = 4096;

export async function startDepotServer(opts: DepotServerOptions): Promise<DepotServer> {
  const { hostname, port } = parseListen(opts.listen);
  const bundleRoot = realBundleDir(opts.bundleDir);
  const store = await loadImageStore(join(bundleRoot, "images"), opts.log);
  const logAccess = accessLogger(opts);

  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname,
      port,
      reusePort: false, // a second depot on the same port must fail, not share it
      development: false,
      async fetch(req, srv) {
        const started = performance.now();
        const res = await route(req, store, bundleRoot);
        logAccess(req, res, started, srv.requestIP(req)?.address);
        return res;
      },
      error(err) {
        opts.log.warn(`depot: internal error: ${err.message}`);
        return plain(500, "internal error\n");
      },
    });
  } catch (e) {
    throw listenError(e, opts.listen);
  }
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const url = `http://${host}:${server.port}`;
  opts.log.info(`depot: serving ${bundleRoot} on ${url} (${store.repositories.size} image repositories)`);
  return {
    url,
    repositories: [...store.repositories.keys()].sort(),
    async stop() {
      await server.stop(false);
    },
  };
}

async function route(req: Request, store: ImageStore, bundleRoot: string): Promise<Response> {
  if (req.url.length > MAX_URL_LENGTH) return plain(414, "request URL too long\n");
  const url = new URL(req.url);
  const path = url.pathname;
  const isRegistry = path === "/v2" || path.startsWith("/v2/");
  if (req.method !== "GET" && req.method !== "HEAD") {
    return isRegistry
      ? registryError("UNSUPPORTED", "the depot is read-only: only GET and HEAD are served", { method: req.method })
      : plain(405, "the depot is read-only: only GET and HEAD are served\n", { Allow: "GET, HEAD" });
  }
  if (isRegistry) return handleRegistry(req, url, store);
  if (isBundleFilePath(path)) return serveBundleFile(req, path, bundleRoot);
  return plain(404, "not found (the depot serves /v2/, /repo/<profile>/ and /files/)\n");
}

function accessLogger(opts: DepotServerOptions): (req: Request, res: Response, started: number, ip?: string) => void {
  const level = opts.accessLog ?? "info";
  if (level === "off") return () => {};
  const write = level === "info" ? opts.log.info.bind(opts.log) : opts.log.debug.bind(opts.log);
  return (req, res, started, ip) => {
    const bytes = req.method === "HEAD" ? 0 : Number(res.headers.get("content-length") ?? 0);
    const ms = (performance.now() - started).toFixed(1);
    const path = req.url.slice(req.url.indexOf("/", req.url.indexOf("//") + 2));
    write(`depot: ${ip ?? "-"} ${req.method} ${path} ${res.status} ${bytes} ${ms}ms`);
  };
}

export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new UsageError(`depot: listen address "${listen}" is not ADDR:PORT`, "e.g. --listen 192.168.217.19:5000 or 0.0.0.0:5000");
  }
  return { hostname: (m[1] ?? m[2])!, port };
}

function realBundleDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    throw new UsageError(`depot: bundle directory ${dir} does not exist`, "pass --bundle DIR (the bundle-<profile> directory copied next to the binary)");
  }
}

function listenError(e: unknown, listen: string): Error {
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
