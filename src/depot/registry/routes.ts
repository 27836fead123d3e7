// The pull side of the OCI distribution API over an ImageStore.
import { fileResponse } from "../http/file-response.ts";
import { registryError, type RegistryErrorCode } from "./errors.ts";
import { isIndexType } from "./media-types.ts";
import { isValidName, isValidTag, isWellFormedDigest, looksLikeDigest } from "./reference.ts";
import type { ImageStore, Repository, StoredManifest } from "./store.ts";

const API_VERSION = { "Docker-Distribution-API-Version": "registry/2.0" };

/** Which platform a client that cannot take a manifest list gets: the one of this machine, the cluster's. */
const HOST_PLATFORM = { os: "linux", architecture: process.arch === "x64" ? "amd64" : process.arch };

/** Answer a request whose path starts with /v2. The caller has already refused methods other than GET/HEAD. */
export function handleRegistry(req: Request, url: URL, store: ImageStore): Response {
  const path = url.pathname;
  if (path === "/v2" || path === "/v2/") return json(req, {});
  if (path === "/v2/_catalog") return catalog(req, url, store);
  const route = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path) ?? /^\/v2\/(.+)\/(tags)\/list$/.exec(path);
  if (!route) return registryError("NAME_UNKNOWN", "no such registry endpoint", { path }, req.method);
  const [, name, kind, rawRef] = route as unknown as [string, string, string, string | undefined];
  if (!isValidName(name)) return fail(req, "NAME_INVALID", "invalid repository name", { name });
  const repo = store.repositories.get(name);
  if (!repo) return fail(req, "NAME_UNKNOWN", "repository name not known to registry", { name });
  if (kind === "tags") return tagsList(req, url, repo);
  let ref: string;
  try {
    ref = decodeURIComponent(rawRef!);
  } catch {
    return fail(req, "DIGEST_INVALID", "reference is not valid percent-encoding", { reference: rawRef });
  }
  return kind === "manifests" ? manifest(req, store, repo, ref) : blob(req, store, repo, ref);
}

function manifest(req: Request, store: ImageStore, repo: Repository, ref: string): Response {
  if (looksLikeDigest(ref)) {
    if (!isWellFormedDigest(ref)) return fail(req, "DIGEST_INVALID", "provided digest is malformed", { digest: ref });
    const m = repo.digests.has(ref) ? store.manifests.get(ref) : undefined;
    if (!m) return fail(req, "MANIFEST_UNKNOWN", "manifest unknown", { name: repo.name, digest: ref });
    return sendManifest(req, m);
  }
  // A reference that is neither a digest nor a valid tag names no manifest: 404 MANIFEST_UNKNOWN, as the
  // distribution spec's conformance suite and docker-registry answer (TAG_INVALID is for pushes).
  if (!isValidTag(ref)) return fail(req, "MANIFEST_UNKNOWN", "manifest unknown: not a valid tag or digest", { name: repo.name, reference: ref });
  const digest = repo.tags.get(ref);
  const m = digest ? store.manifests.get(digest) : undefined;
  if (!m) return fail(req, "MANIFEST_UNKNOWN", "manifest unknown", { name: repo.name, tag: ref });
  const accepted = acceptedTypes(req);
  if (isIndexType(m.mediaType) && accepted && !accepted.includes(m.mediaType)) {
    // An old client that cannot read a list gets the manifest for this host's platform, as Docker Hub does.
    const child = m.children.find(
      (c) => c.platform?.os === HOST_PLATFORM.os && c.platform?.architecture === HOST_PLATFORM.architecture,
    );
    const picked = child && store.manifests.get(child.digest);
    if (!picked) {
      return fail(req, "MANIFEST_UNKNOWN", `${repo.name}:${ref} is a multi-platform index without a ${HOST_PLATFORM.os}/${HOST_PLATFORM.architecture} manifest`, { accepted });
    }
    return sendManifest(req, picked);
  }
  return sendManifest(req, m);
}

export function sendManifest(req: Request, m: StoredManifest): Response {
  return new Response(req.method === "HEAD" ? null : m.bytes, { headers: manifestHeaders(m) });
}

function manifestHeaders(m: StoredManifest): Record<string, string> {
  return {
    ...API_VERSION,
    "Content-Type": m.mediaType,
    "Docker-Content-Digest": m.digest,
    ETag: `"${m.digest}"`,
    "Content-Length": String(m.bytes.length),
  };
}

/**
 * Every manifest each repository serves, keyed by the path a client asks for it by digest. A pull asks
 * for each manifest by digest (the index, then the platform's manifest) after resolving the tag, and the
 * answer is the same whoever asks (only a tag's depends on Accept): the handler looks the raw path up
 * here before anything else is parsed. A path written otherwise (percent-encoded, with dot segments)
 * misses and takes the full route to the same answer.
 */
export function manifestsByPath(store: ImageStore): Map<string, StoredManifest> {
  const paths = new Map<string, StoredManifest>();
  for (const repo of store.repositories.values()) {
    for (const digest of repo.digests) {
      const m = store.manifests.get(digest);
      if (m) paths.set(`/v2/${repo.name}/manifests/${digest}`, m);
    }
  }
  return paths;
}

function blob(req: Request, store: ImageStore, repo: Repository, digest: string): Response {
  if (!isWellFormedDigest(digest)) return fail(req, "DIGEST_INVALID", "provided digest is malformed", { digest });
  const loc = repo.digests.has(digest) ? store.blobs.get(digest) : undefined;
  if (!loc) return fail(req, "BLOB_UNKNOWN", "blob unknown to registry", { name: repo.name, digest });
  return fileResponse(req, { path: loc.file, offset: loc.offset, size: loc.size }, {
    ...API_VERSION,
    "Content-Type": "application/octet-stream",
    // Else Bun names the archive file the bytes come from (filename="pause.tar"), which is not the blob.
    "Content-Disposition": "inline",
    "Docker-Content-Digest": digest,
    ETag: `"${digest}"`,
  });
}

function catalog(req: Request, url: URL, store: ImageStore): Response {
  const page = paginate(url, [...store.repositories.keys()].sort());
  if ("error" in page) return page.error(req);
  const headers: Record<string, string> = page.next ? { Link: `</v2/_catalog?last=${encodeURIComponent(page.next)}&n=${page.n}>; rel="next"` } : {};
  return json(req, { repositories: page.items }, headers);
}

function tagsList(req: Request, url: URL, repo: Repository): Response {
  const page = paginate(url, [...repo.tags.keys()].sort());
  if ("error" in page) return page.error(req);
  const headers: Record<string, string> = page.next
    ? { Link: `</v2/${repo.name}/tags/list?last=${encodeURIComponent(page.next)}&n=${page.n}>; rel="next"` }
    : {};
  return json(req, { name: repo.name, tags: page.items }, headers);
}

/** ?n=<count>&last=<item>: items after `last`, at most n; `next` set when more remain. */
function paginate(url: URL, all: string[]): { items: string[]; next?: string; n?: number } | { error: (req: Request) => Response } {
  const last = url.searchParams.get("last");
  const nParam = url.searchParams.get("n");
  const after = last === null ? all : all.filter((x) => x > last);
  if (nParam === null) return { items: after };
  if (!/^\d{1,9}$/.test(nParam)) {
    return { error: (req) => fail(req, "PAGINATION_NUMBER_INVALID", "invalid number of results requested", { n: nParam }) };
  }
  const n = Number(nParam);
  const items = after.slice(0, n);
  const more = after.length > n && n > 0;
  return more ? { items, next: items[items.length - 1], n } : { items };
}

function acceptedTypes(req: Request): string[] | null {
  const header = req.headers.get("accept");
  if (!header) return null;
  const types = header.split(",").map((t) => t.split(";")[0]!.trim().toLowerCase()).filter(Boolean);
  return types.length === 0 || types.includes("*/*") ? null : types;
}

function json(req: Request, body: unknown, extra: Record<string, string> = {}): Response {
  const text = JSON.stringify(body);
  const headers = { ...API_VERSION, ...extra, "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(text)) };
  return new Response(req.method === "HEAD" ? null : text, { headers });
}

function fail(req: Request, code: RegistryErrorCode, message: string, detail: unknown): Response {
  return registryError(code, message, detail, req.method);
}
