// lock.json: the size and sha256 of every file of an assembled bundle.
// Written by assembleBundle, embedded in the binary at compile time, and checked by verify-bundle
// before install touches any node, so a corrupt or swapped payload is caught on master1.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const LOCK_FILE = "lock.json";

export type LockFileKind = "rpm" | "deb" | "file" | "image";

export interface LockFile {
  /** Relative to the bundle directory, forward slashes, never "..", never absolute. */
  path: string;
  size: number;
  sha256: string;
  kind: LockFileKind;
}

export interface LockImage {
  /** Full upstream reference, e.g. registry.k8s.io/kube-apiserver:v1.22.2 */
  ref: string;
  /** Digest of the image manifest the archive's index.json points at ("sha256:..."). */
  digest: string;
  /** The archive holding it, a path of files[] (images/<name>.tar). */
  file: string;
}

export interface BundleLock {
  profile: string;
  kubernetesVersion: string;
  /** ISO 8601 time of assembly. */
  created: string;
  files: LockFile[];
  images: LockImage[];
}

/** A bundle or lock that cannot be used; the message says which file and what to do. */
export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BundleError";
  }
}

const KINDS: readonly LockFileKind[] = ["rpm", "deb", "file", "image"];
const SHA256 = /^[0-9a-f]{64}$/;

/** A lock path must stay inside the bundle: verify and the depot server both join it to the bundle dir. */
export function isSafeBundlePath(p: string): boolean {
  if (p === "" || p.startsWith("/") || p.includes("\\") || p.includes("\0")) return false;
  return p.split("/").every((seg) => seg !== "" && seg !== "." && seg !== "..");
}

/** Parse and validate lock text; `where` names its origin in errors (a path, or "the embedded lock"). */
export function parseLock(text: string, where: string): BundleLock {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new BundleError(`${where} is not valid JSON (${(e as Error).message}); re-assemble the bundle`);
  }
  const bad = (what: string) => new BundleError(`${where}: ${what}; re-assemble the bundle with: bun run build.ts bundle --profile <profile>`);
  if (typeof raw !== "object" || raw === null) throw bad("not a JSON object");
  const o = raw as Record<string, unknown>;
  for (const key of ["profile", "kubernetesVersion", "created"] as const) {
    if (typeof o[key] !== "string" || o[key] === "") throw bad(`"${key}" must be a non-empty string`);
  }
  if (!Array.isArray(o.files)) throw bad(`"files" must be a list`);
  if (!Array.isArray(o.images)) throw bad(`"images" must be a list`);
  const seen = new Set<string>();
  const files = o.files.map((f: Record<string, unknown>, i: number): LockFile => {
    const at = `files[${i}]`;
    if (typeof f?.path !== "string" || !isSafeBundlePath(f.path)) throw bad(`${at}.path ${JSON.stringify(f?.path)} is not a relative path inside the bundle`);
    if (seen.has(f.path)) throw bad(`${at}.path ${f.path} is listed twice`);
    seen.add(f.path);
    if (typeof f.size !== "number" || !Number.isSafeInteger(f.size) || f.size < 0) throw bad(`${at}.size must be a byte count`);
    if (typeof f.sha256 !== "string" || !SHA256.test(f.sha256)) throw bad(`${at}.sha256 must be 64 lowercase hex digits`);
    if (!KINDS.includes(f.kind as LockFileKind)) throw bad(`${at}.kind must be one of ${KINDS.join(", ")}`);
    return { path: f.path, size: f.size, sha256: f.sha256, kind: f.kind as LockFileKind };
  });
  const images = o.images.map((im: Record<string, unknown>, i: number): LockImage => {
    const at = `images[${i}]`;
    if (typeof im?.ref !== "string" || im.ref === "") throw bad(`${at}.ref must be an image reference`);
    if (typeof im.digest !== "string" || !/^sha256:[0-9a-f]{64}$/.test(im.digest)) throw bad(`${at}.digest must be sha256:<64 hex>`);
    if (typeof im.file !== "string" || !seen.has(im.file)) throw bad(`${at}.file must be one of the files[] paths`);
    return { ref: im.ref, digest: im.digest, file: im.file };
  });
  return { profile: o.profile as string, kubernetesVersion: o.kubernetesVersion as string, created: o.created as string, files, images };
}

/** The lock.json of a bundle directory. */
export function readLock(dir: string): BundleLock {
  const path = join(dir, LOCK_FILE);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BundleError(
      code === "ENOENT"
        ? `no ${LOCK_FILE} in ${dir}: this is not an assembled bundle (pass the bundle directory with --bundle DIR)`
        : `cannot read ${path}: ${(e as Error).message}`,
    );
  }
  return parseLock(text, path);
}

export function serializeLock(lock: BundleLock): string {
  return `${JSON.stringify(lock, null, 2)}\n`;
}

export function writeLock(dir: string, lock: BundleLock): void {
  writeFileSync(join(dir, LOCK_FILE), serializeLock(lock));
}

/**
 * The lock embedded at compile time, or null for a binary built without a bundle.
 * build.ts compiles with `define: { "process.env.K8S_HA_EMBEDDED_LOCK": JSON.stringify(lockText) }`,
 * which replaces the expression below by the lock text; un-compiled runs (bun src/cli.ts) see the
 * environment variable, so tests can set it.
 */
export function embeddedLock(): BundleLock | null {
  const text = process.env.K8S_HA_EMBEDDED_LOCK;
  if (text === undefined || text === "") return null;
  return parseLock(text, "the lock embedded in this binary");
}

/**
 * What `version` prints of the embedded lock, read without parseLock's validation: that costs a cold
 * process about 10 ms (a third of the runtime's own start-up), and every command that uses the lock
 * validates it.
 */
export function embeddedLockSummary(): { profile: string; kubernetesVersion: string; files: number; images: number } | null {
  const text = process.env.K8S_HA_EMBEDDED_LOCK;
  if (text === undefined || text === "") return null;
  const o = JSON.parse(text) as { profile?: string; kubernetesVersion?: string; files?: unknown[]; images?: unknown[] };
  return { profile: String(o.profile), kubernetesVersion: String(o.kubernetesVersion), files: o.files?.length ?? 0, images: o.images?.length ?? 0 };
}

/** embeddedLock() for commands that cannot work without one. */
export function requireEmbeddedLock(): BundleLock {
  const lock = embeddedLock();
  if (!lock) {
    throw new BundleError(
      "this binary was built without a bundle, so it has no embedded lock to check against; " +
        "build it with: bun run build.ts bundle --profile <profile>",
    );
  }
  return lock;
}
