// The depot's own copy of the bundle on every control-plane node (issue 16: losing any master, master1
// included, loses no image, package or file). Each copy sits at DEPOT_BUNDLE_DIR, root's, and is checked
// file by file against the lock embedded in the binary. master1's is made from the operator's bundle
// directory (a hard link when on the same filesystem, else a copy); the other masters get theirs over SSH
// from master1 (Host.upload checks the sha256 on the node). Only what is missing or differs moves, so a
// re-run with every copy intact transfers nothing — and, thanks to the stamp, does not even re-hash it.
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Host } from "../hosts/host.ts";
import { bytesSha256 } from "../hosts/sha256.ts";
import { sh } from "../util/sh.ts";
import { InstallError } from "../util/errors.ts";
import { mapLimit } from "../util/hash.ts";
import { LOCK_FILE, serializeLock, type BundleLock, type LockFile } from "./lock.ts";

/** Where every master keeps the bundle the depot serves (not under the installer's state dir, which is replicated). */
export const DEPOT_BUNDLE_DIR = "/var/lib/k8s-ha-offline-depot/bundle";

/**
 * "<dir>.verified": the lock's fingerprint and `stat` (size, mtime, ctime, inode) of every file right after
 * all of them hashed to the lock's sha256. While nothing changes those, the copy needs no hashing again;
 * any write to a file changes its ctime (which, unlike mtime, cannot be set back) or, replaced, its inode.
 */
export const stampPath = (dir: string) => `${dir}.verified`;

/** Files at least this big are announced one by one with their transfer rate. */
const BIG_FILE = 64 * 1024 * 1024;

export interface BundleCopyState {
  /** Lock files that are missing, of another size, or hash to something else. */
  differing: LockFile[];
  /** Files in the copy that the lock does not list (an older bundle's): removed by the copy. */
  extra: string[];
  /** The stamp matches: the copy was verified and nothing changed since (nothing was hashed). */
  stamped: boolean;
}

/** What the stamp holds for this lock and the files as they are. */
const stampText = (lock: BundleLock, listing: string) => `lock ${lockFingerprint(lock)}\n${listing}`;

/** The lock's files and sums, as one digest: a new bundle means a new stamp. */
export const lockFingerprint = (lock: BundleLock) => bytesSha256(lock.files.map((f) => `${f.sha256} ${f.size} ${f.path}`).join("\n"));

/** "size mtime ctime inode path" of every lock file present in the copy, in lock order (paths on stdin: no argv limit). */
async function statListing(host: Host, dir: string, lock: BundleLock): Promise<string> {
  const r = await host.exec(sh`cd -- ${dir} 2>/dev/null && xargs -r -d '\\n' stat -c '%s %Y %Z %i %n' -- 2>/dev/null`, {
    check: false,
    stdin: lock.files.map((f) => f.path).join("\n") + "\n",
  });
  return r.stdout;
}

async function readStamp(host: Host, dir: string): Promise<string | undefined> {
  const b = await host.readFile(stampPath(dir));
  return b ? new TextDecoder().decode(b) : undefined;
}

/** Files under dir the lock does not list (lock.json aside). */
async function extraFiles(host: Host, dir: string, lock: BundleLock): Promise<string[]> {
  const r = await host.exec(sh`cd -- ${dir} 2>/dev/null && find . -type f -o -type l`, { check: false });
  const want = new Set([...lock.files.map((f) => f.path), LOCK_FILE]);
  return r.stdout.split("\n").filter(Boolean).map((p) => p.replace(/^\.\//, "")).filter((p) => !want.has(p) && !p.endsWith(".part"));
}

/** sha256 of the given files on the host (those that exist), path → hex. */
async function hashes(host: Host, dir: string, paths: string[]): Promise<Map<string, string>> {
  if (paths.length === 0) return new Map();
  const r = await host.exec(sh`cd -- ${dir} && xargs -r -d '\\n' sha256sum -- 2>/dev/null`, { check: false, stdin: paths.join("\n") + "\n", timeoutMs: 3_600_000 });
  const out = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}

/** How the copy at `dir` on `host` stands against the lock: cheap (stat only) when the stamp still holds. */
export async function inspectBundleCopy(host: Host, lock: BundleLock, dir = DEPOT_BUNDLE_DIR): Promise<BundleCopyState> {
  const [listing, extra, stamp] = await Promise.all([statListing(host, dir, lock), extraFiles(host, dir, lock), readStamp(host, dir)]);
  if (stamp === stampText(lock, listing)) return { differing: [], extra, stamped: true };
  // Sizes from the listing first: a file of the wrong size needs no hashing to be known wrong.
  const sizes = new Map(listing.split("\n").filter(Boolean).map((l) => {
    const [size, , , , ...path] = l.split(" ");
    return [path.join(" "), Number(size)] as const;
  }));
  const sameSize = lock.files.filter((f) => sizes.get(f.path) === f.size);
  const sums = await hashes(host, dir, sameSize.map((f) => f.path));
  return { differing: lock.files.filter((f) => sums.get(f.path) !== f.sha256), extra, stamped: false };
}

/** Where a file of the copy comes from, and how it is put in place on the host. */
export type BundleSource =
  /** The host is this machine: link (or copy) from the operator's bundle directory. */
  | { kind: "local"; dir: string }
  /** Another node: stream from this machine's directories (the first that has the file), checked by sha256 on arrival. */
  | { kind: "upload"; dirs: string[] };

export interface CopyReport {
  transferred: LockFile[];
  removed: string[];
  /** Bytes that moved (for uploads) or were linked/copied. */
  bytes: number;
}

const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;

/**
 * The host is this machine: every file linked from the operator's bundle directory in one script (paths on
 * stdin), a hard link costing no space and no time; across filesystems (or where links are refused) a copy.
 * Each lands under a temporary name first, so a reader never sees half a file.
 */
async function linkAll(host: Host, dir: string, from: string, files: LockFile[]): Promise<void> {
  if (files.length === 0) return;
  const script = sh`cd -- ${dir} && src=${from} && while IFS= read -r f; do rm -f -- "$f.part" && { ln -- "$src/$f" "$f.part" 2>/dev/null || cp -- "$src/$f" "$f.part"; } && mv -f -- "$f.part" "$f" || exit 1; done`;
  await host.exec(script, { stdin: files.map((f) => f.path).join("\n") + "\n", timeoutMs: 3_600_000 });
}

/**
 * Files sent to another node at once: one at a time, each small file costs a round trip (and the node's
 * sha256sum) of waiting; a few side by side keep the connection busy. A few, not all: one SSH connection
 * carries at most 8 channels (ssh.ts) and the node hashes what arrives.
 */
const UPLOADS_AT_ONCE = 4;

/** Another node: each file streamed from the first of this machine's directories that has it, checked by sha256 on arrival. */
async function uploadAll(host: Host, dir: string, dirs: string[], files: LockFile[], total: number, say: (line: string) => void): Promise<void> {
  let done = 0;
  await mapLimit([...files.entries()], UPLOADS_AT_ONCE, async ([i, f]) => {
    const from = dirs.map((d) => join(d, f.path)).find((p) => existsSync(p) && statSync(p).size === f.size);
    if (!from) throw new InstallError(`${f.path}: not on this machine (looked in ${dirs.join(", ")}); cannot give ${host.name} its depot copy; run the install from master1 with the bundle directory (--bundle)`);
    const big = f.size >= BIG_FILE;
    const started = performance.now();
    if (big) say(`${host.name}: ${f.path} (${mb(f.size)}; file ${i + 1}/${files.length}, ${mb(done)} of ${mb(total)} done)`);
    await host.upload(from, join(dir, f.path), { sha256: f.sha256, mode: 0o644 });
    done += f.size;
    if (big) {
      const s = (performance.now() - started) / 1000;
      say(`${host.name}: ${f.path} in place (${s.toFixed(1)} s${s > 0.05 ? `, ${mb(f.size / s)}/s` : ""})`);
    }
  });
}

/**
 * Make the copy at `dir` on `host` exactly the lock's files: what is missing or differs comes from
 * `source`, what the lock does not list goes, every file ends root's and not writable by others
 * (the depot's unit mounts the directory read-only too), and the stamp is written last, only after
 * the transferred files hashed to the lock's sums. `progress` hears about each big file.
 */
export async function syncBundleCopy(
  host: Host,
  lock: BundleLock,
  source: BundleSource,
  opts: { dir?: string; progress?: (line: string) => void } = {},
): Promise<CopyReport> {
  const dir = opts.dir ?? DEPOT_BUNDLE_DIR;
  const say = opts.progress ?? (() => {});
  const state = await inspectBundleCopy(host, lock, dir);
  // Every directory the missing files need, in the one command that makes the copy's own.
  const dirs = [...new Set(state.differing.map((f) => dirname(join(dir, f.path))))];
  await host.exec(sh`mkdir -p -- ${dir} ${dirs} && chown root:root -- ${dir} ${dirname(dir)} && chmod 0755 -- ${dir} ${dirname(dir)}`);
  if (state.extra.length) await host.exec(sh`cd -- ${dir} && rm -f -- ${state.extra}`);
  const total = state.differing.reduce((n, f) => n + f.size, 0);
  if (source.kind === "local") await linkAll(host, dir, source.dir, state.differing);
  else await uploadAll(host, dir, source.dirs, state.differing, total, say);
  // Linked files keep the operator's mode: make every file root's and read-only to others.
  await host.exec(sh`cd -- ${dir} && chown -R root:root . && chmod -R u+rwX,go+rX,go-w .`);
  await host.writeFile(join(dir, LOCK_FILE), serializeLock(lock), { mode: 0o644 });
  // What moved is proven before the stamp vouches for it (a link or copy is not checked on the way).
  const after = await hashes(host, dir, state.differing.map((f) => f.path));
  const bad = state.differing.filter((f) => after.get(f.path) !== f.sha256);
  if (bad.length)
    throw new InstallError(
      `${host.name}: the depot copy of ${bad.map((f) => f.path).join(", ")} does not hash to the bundle lock's sha256; ` +
        (source.kind === "local" ? `the bundle directory ${source.dir} is damaged: run verify-bundle --bundle ${source.dir}` : "re-run the install (the transfer is retried)"),
    );
  await host.writeFile(stampPath(dir), stampText(lock, await statListing(host, dir, lock)), { mode: 0o644 });
  return { transferred: state.differing, removed: state.extra, bytes: total };
}
