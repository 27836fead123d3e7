// /repo/<profile>/... and /files/<name>: read-only static files from the bundle directory.
// Every path segment is decoded and checked on its own, then the real path (symlinks resolved)
// must still lie inside the bundle: no request can reach a file outside it.
import { realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { fileResponse } from "./file-response.ts";

const CONTENT_TYPES: Record<string, string> = {
  ".xml": "application/xml",
  ".gz": "application/gzip",
  ".bz2": "application/x-bzip2",
  ".xz": "application/x-xz",
  ".zst": "application/zstd",
  ".rpm": "application/x-rpm",
  ".deb": "application/vnd.debian.binary-package",
  ".json": "application/json",
  ".asc": "text/plain",
  ".sqlite": "application/octet-stream",
};

export function isBundleFilePath(pathname: string): boolean {
  return pathname.startsWith("/repo/") || pathname.startsWith("/files/");
}

/** bundleRoot must already be a real path (no symlinks). */
export async function serveBundleFile(req: Request, pathname: string, bundleRoot: string): Promise<Response> {
  if (pathname.endsWith("/")) return notFound(); // no directory listings
  const segments = decodeSegments(pathname);
  if (!segments) return plain(400, "bad path: empty, '.' or '..' segments, encoded slashes and bad escapes are refused\n");
  const [top, ...rest] = segments;
  // /files/<name> is flat; /repo/<profile>/<path...> needs at least a profile and a file.
  if ((top === "files" && rest.length !== 1) || (top === "repo" && rest.length < 2)) return notFound();
  let real: string;
  try {
    real = await realpath(join(bundleRoot, top!, ...rest));
  } catch {
    return notFound();
  }
  if (!real.startsWith(bundleRoot + sep)) return notFound(); // a symlink pointing out of the bundle
  const info = await stat(real).catch(() => null);
  if (!info?.isFile()) return notFound();
  const dot = real.lastIndexOf(".");
  const type = (dot > real.lastIndexOf(sep) && CONTENT_TYPES[real.slice(dot)]) || "application/octet-stream";
  return fileResponse(req, { path: real, offset: 0, size: info.size }, {
    "Content-Type": type,
    "Last-Modified": info.mtime.toUTCString(),
  });
}

function decodeSegments(pathname: string): string[] | null {
  const raw = pathname.split("/").slice(1);
  const out: string[] = [];
  for (const seg of raw) {
    let s: string;
    try {
      s = decodeURIComponent(seg);
    } catch {
      return null;
    }
    if (s === "" || s === "." || s === ".." || /[\/\\\0]/.test(s)) return null;
    out.push(s);
  }
  return out;
}

const notFound = () => plain(404, "not found\n");

export function plain(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(text, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...headers } });
}
