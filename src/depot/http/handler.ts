// The depot's request handler, shared by the main thread and the serving worker threads:
// routing, read-only enforcement, and the access log line of every request.
import type { Server } from "bun";
import { registryError } from "../registry/errors.ts";
import { handleRegistry, manifestsByPath, sendManifest } from "../registry/routes.ts";
import type { ImageStore, StoredManifest } from "../registry/store.ts";
import { isBundleFilePath, plain, serveBundleFile } from "./bundle-files.ts";
import { memoryResponse, type SignedFiles } from "./signed-repo.ts";

/** Longest request URL accepted; real clients stay far below (the longest is a catalog page link). */
const MAX_URL_LENGTH = 4096;

export interface HandlerContext {
  store: ImageStore;
  /** Real path of the bundle directory. */
  bundleRoot: string;
  /** The repositories' signatures made at start (InRelease, Release.gpg, repomd.xml.asc), served before any bundle file. */
  signed?: SignedFiles;
  /** Where the access log lines go (none: no line is made). */
  access?: AccessSinks;
  /** Lines of answered requests per second and serving thread, at most (default OK_LINES_PER_SECOND). */
  okLinesPerSecond?: number;
}

/**
 * A pull is a few hundred requests, each worth a line (which node fetched what from which depot); a load
 * run is tens of thousands a second, and a line each cost the log more than it told. Above this many
 * lines a second (per serving thread) the rest of that second is counted, not written, and one line says
 * how many were left out.
 */
export const OK_LINES_PER_SECOND = 100;

/** Admits up to `perSecond` lines in each second; says how many it refused once that second is over. */
export function lineBudget(perSecond: number, report: (line: string) => void, now = () => Date.now()): () => boolean {
  let windowStart = -Infinity;
  let used = 0;
  let refused = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    timer = undefined;
    if (refused) report(`depot: ${refused} more answered request(s) not logged one by one (over ${perSecond} lines a second)`);
    refused = 0;
  };
  return () => {
    const t = now();
    if (t - windowStart >= 1000) {
      if (timer) clearTimeout(timer);
      flush();
      windowStart = t;
      used = 0;
    }
    if (used < perSecond) {
      used++;
      return true;
    }
    // The count is written when the second is over, even if no request comes after it.
    if (refused++ === 0) {
      timer = setTimeout(flush, Math.max(0, windowStart + 1000 - t));
      (timer as { unref?: () => void }).unref?.(); // never what keeps a stopping depot alive
    }
    return false;
  };
}

/**
 * Access lines of answered requests (2xx, 3xx) and of refused or failed ones (4xx, 5xx) go apart: under
 * load the first are millions of lines (quiet by default, src/depot/server.ts), the others are what
 * an operator looks for. A missing sink means that kind of line is not even made.
 */
export interface AccessSinks {
  ok?: (line: string) => void;
  failed?: (line: string, status: number) => void;
}

export function createHandler(ctx: HandlerContext): (req: Request, srv: Server<undefined>) => Response | Promise<Response> {
  const byPath = manifestsByPath(ctx.store);
  // Without access lines a request is routed and answered, nothing else: no clock, no client address.
  if (!ctx.access?.ok && !ctx.access?.failed) return (req) => route(req, ctx, byPath);
  const { ok, failed } = ctx.access;
  const admit = ok ? lineBudget(ctx.okLinesPerSecond ?? OK_LINES_PER_SECOND, ok) : undefined;
  return (req, srv) => {
    const started = performance.now();
    const logged = (res: Response) => {
      if (res.status >= 400) failed?.(accessLine(req, res, started, srv.requestIP(req)?.address), res.status);
      else if (ok && admit!()) ok(accessLine(req, res, started, srv.requestIP(req)?.address));
      return res;
    };
    // Answers made in memory (registry, signatures; most of a pull's requests) take no promise.
    const res = route(req, ctx, byPath);
    return res instanceof Response ? logged(res) : res.then(logged);
  };
}

function route(req: Request, ctx: HandlerContext, byPath: Map<string, StoredManifest>): Response | Promise<Response> {
  // A manifest by digest, asked for as such: its answer without parsing the URL (the commonest request of a pull).
  if (req.method === "GET" || req.method === "HEAD") {
    const m = byPath.get(requestPath(req.url));
    if (m) return sendManifest(req, m);
  }
  if (req.url.length > MAX_URL_LENGTH) return plain(414, "request URL too long\n");
  // CONNECT (a proxy request) and a request without a Host header (HTTP/1.0 allows it; the server then sees
  // only the bare path) are the client's mistake: a 4xx, not a thrown TypeError answered as 500.
  if (req.method === "CONNECT") return plain(405, "the depot is not a proxy\n", { Allow: "GET, HEAD" });
  if (!URL.canParse(req.url)) return plain(400, "bad request: no Host header\n");
  const url = new URL(req.url);
  const path = url.pathname;
  const isRegistry = path === "/v2" || path.startsWith("/v2/");
  if (req.method !== "GET" && req.method !== "HEAD") {
    return isRegistry
      ? registryError("UNSUPPORTED", "the depot is read-only: only GET and HEAD are served", { method: req.method })
      : plain(405, "the depot is read-only: only GET and HEAD are served\n", { Allow: "GET, HEAD" });
  }
  if (isRegistry) return handleRegistry(req, url, ctx.store);
  const signed = ctx.signed && Object.hasOwn(ctx.signed, path) ? ctx.signed[path] : undefined;
  if (signed) return memoryResponse(req, signed);
  if (isBundleFilePath(path)) return serveBundleFile(req, path, ctx.bundleRoot);
  return plain(404, "not found (the depot serves /v2/, /repo/<profile>/ and /files/)\n");
}

/** The path and query as the client sent them (no decoding, no normalising): "https://h:p/v2/x?n=1" → "/v2/x?n=1". */
function requestTarget(url: string): string {
  const hostStart = url.indexOf("//");
  if (hostStart < 0) return url;
  const start = url.indexOf("/", hostStart + 2);
  return start < 0 ? "/" : url.slice(start);
}

/** The path of the request target, without its query. */
function requestPath(url: string): string {
  const target = requestTarget(url);
  const q = target.indexOf("?");
  return q < 0 ? target : target.slice(0, q);
}

/** "depot: <client> <METHOD> <path> <status> <body bytes> <ms>ms" */
function accessLine(req: Request, res: Response, started: number, ip?: string): string {
  const bytes = req.method === "HEAD" ? 0 : Number(res.headers.get("content-length") ?? 0);
  const ms = (performance.now() - started).toFixed(1);
  return `depot: ${ip ?? "-"} ${req.method} ${requestTarget(req.url)} ${res.status} ${bytes} ${ms}ms`;
}

export function internalError(err: Error, warn: (m: string) => void): Response {
  warn(`depot: internal error: ${err.message}`);
  return plain(500, "internal error\n");
}
