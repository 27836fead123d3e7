// verify-bundle: every file of the bundle against the lock — size first (cheap), then a streamed
// sha256, several files at once. Anything on disk the lock does not list is reported too, and so
// is a symlink that leads out of the bundle (its content could change after the check).
import { lstat, mkdir, readFile, readdir, realpath, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { createHash } from "node:crypto";
import { LOCK_FILE, type BundleLock } from "./lock.ts";
import { mapLimit, sha256File } from "../util/hash.ts";

export type ProblemKind = "missing" | "size" | "sha256" | "extra" | "symlink";

export interface BundleProblem {
  /** Relative to the bundle directory. */
  path: string;
  problem: ProblemKind;
  expected?: string;
  actual?: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Sorted by path. */
  problems: BundleProblem[];
  /** Files whose size and sha256 matched. */
  checked: number;
  /** Trusted from the stamp of an earlier verification (VerifyOptions.stampFile): nothing was hashed. */
  fromStamp: boolean;
}

export interface VerifyOptions {
  /** Files hashed at once (default 4: enough to keep a disk busy without thrashing it). */
  concurrency?: number;
  /**
   * Where a passed verification is remembered: the lock and every file's size, times, inode and device.
   * While they are all unchanged, the next verification trusts it instead of hashing the whole bundle
   * again (every install and re-run began with ~230 MB of sha256, 1-2.5 s); any write to a file changes
   * its ctime, which no one can set back.
   */
  stampFile?: string;
}

interface Entry {
  /** Relative path, forward slashes. */
  rel: string;
  /** Path to read (the symlink target for an in-bundle symlink). */
  abs: string;
  /** A symlink whose target is outside the bundle. */
  escapes: boolean;
}

const inside = (root: string, p: string) => p === root || p.startsWith(root + sep);

/** Every non-directory under root; in-bundle symlinks followed, escaping ones flagged, never followed. */
async function listFiles(root: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      const abs = join(dir, d.name);
      const rel = relative(root, abs).split(sep).join("/");
      if (d.isSymbolicLink()) {
        const target = await realpath(abs).catch(() => null);
        if (target === null || !inside(root, target)) {
          out.push({ rel, abs, escapes: true });
        } else if ((await stat(target)).isDirectory()) {
          // A directory link inside the bundle would list files twice; the lock never has one.
          out.push({ rel, abs, escapes: false });
        } else {
          out.push({ rel, abs: target, escapes: false });
        }
      } else if (d.isDirectory()) {
        await walk(abs);
      } else {
        out.push({ rel, abs, escapes: false });
      }
    }
  };
  await walk(root);
  return out;
}

/** What the stamp holds: the lock's files and the stat of everything in the bundle, as one sha256. */
async function statFingerprint(root: string, entries: Entry[], lock: BundleLock): Promise<string> {
  const h = createHash("sha256").update(JSON.stringify([root, lock.files.map((f) => [f.path, f.size, f.sha256])]));
  for (const e of [...entries].sort((a, b) => (a.rel < b.rel ? -1 : 1))) {
    const st = e.escapes ? await lstat(e.abs) : await stat(e.abs);
    h.update(JSON.stringify([e.rel, e.escapes, st.mode, st.size, st.mtimeMs, st.ctimeMs, st.ino, st.dev]));
  }
  return h.digest("hex");
}

const readStamp = (file: string) => readFile(file, "utf8").catch(() => undefined);

/** Remembered when it can be (a read-only or foreign state dir only costs the next run a full hash). */
async function writeStamp(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    .then(() => writeFile(tmp, text, { mode: 0o600 }))
    .then(() => rename(tmp, file))
    .catch(() => {});
}

export async function verifyBundle(dir: string, lock: BundleLock, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const root = await realpath(dir);
  const entries = await listFiles(root);
  const fingerprint = opts.stampFile ? await statFingerprint(root, entries, lock) : undefined;
  if (fingerprint && (await readStamp(opts.stampFile!)) === `${fingerprint}\n`) return { ok: true, problems: [], checked: lock.files.length, fromStamp: true };
  const result = await hashAgainstLock(root, entries, lock, opts);
  if (fingerprint && result.ok) await writeStamp(opts.stampFile!, `${fingerprint}\n`);
  return result;
}

async function hashAgainstLock(root: string, entries: Entry[], lock: BundleLock, opts: VerifyOptions): Promise<VerifyResult> {
  const onDisk = new Map(entries.map((e) => [e.rel, e]));
  onDisk.delete(LOCK_FILE);
  const problems: BundleProblem[] = [];
  const toHash: { entry: Entry; expected: string }[] = [];

  for (const f of lock.files) {
    const entry = onDisk.get(f.path);
    onDisk.delete(f.path);
    if (!entry) {
      problems.push({ path: f.path, problem: "missing", expected: `${f.size} bytes` });
      continue;
    }
    if (entry.escapes) {
      problems.push({ path: f.path, problem: "symlink", expected: "a file inside the bundle", actual: "a link leading out of it" });
      continue;
    }
    const st = await lstat(entry.abs);
    if (!st.isFile()) {
      problems.push({ path: f.path, problem: "missing", expected: "a regular file", actual: st.isDirectory() ? "a directory" : "not a regular file" });
    } else if (st.size !== f.size) {
      problems.push({ path: f.path, problem: "size", expected: String(f.size), actual: String(st.size) });
    } else {
      toHash.push({ entry, expected: f.sha256 });
    }
  }
  for (const e of onDisk.values()) {
    problems.push(e.escapes ? { path: e.rel, problem: "symlink", actual: "a link leading out of the bundle" } : { path: e.rel, problem: "extra" });
  }

  const hashed = await mapLimit(toHash, opts.concurrency ?? 4, async ({ entry, expected }) => {
    const { sha256 } = await sha256File(entry.abs);
    return sha256 === expected ? null : ({ path: entry.rel, problem: "sha256", expected, actual: sha256 } as BundleProblem);
  });
  for (const p of hashed) if (p) problems.push(p);
  problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { ok: problems.length === 0, problems, checked: toHash.length - hashed.filter(Boolean).length, fromStamp: false };
}

/** One line per problem, for the CLI and the install preflight. */
export function describeProblem(p: BundleProblem): string {
  switch (p.problem) {
    case "missing":
      return `${p.path}: missing (expected ${p.expected})${p.actual ? `, found ${p.actual}` : ""}`;
    case "size":
      return `${p.path}: wrong size, ${p.actual} bytes instead of ${p.expected} (truncated or replaced)`;
    case "sha256":
      return `${p.path}: corrupt, sha256 ${p.actual} instead of ${p.expected}`;
    case "extra":
      return `${p.path}: not in the lock (remove it, or re-assemble the bundle)`;
    case "symlink":
      return `${p.path}: a symlink leading out of the bundle (replace it with the file itself)`;
  }
}
