// Nodes fetch payload files from the depots (every master runs one; the node's own first, see
// depotsFor) and check them against the embedded lock, so a file corrupted on the way is never installed.
import type { PhaseContext } from "../phase.ts";
import { HostError, type Host } from "../../hosts/host.ts";
import type { BundleLock, LockFile } from "../../depot/lock.ts";
import { basename, dirname } from "node:path";
import { sh, shJoin, type ShellCommand } from "../../util/sh.ts";
import { depotUrl, depotsFor } from "../../depot/endpoint.ts";
import { NODE_DEPOT_CA } from "../../depot/trust-paths.ts";
import { InstallError } from "../../util/errors.ts";

export function requireLock(ctx: Pick<PhaseContext, "lock">): BundleLock {
  if (!ctx.lock) throw new InstallError("this binary carries no bundle lock; build it with `bun run build.ts bundle --profile <profile>`");
  return ctx.lock;
}

/** The one payload file whose bundle path matches, e.g. /^files\/etcd-v[\d.]+-linux-amd64\.tar\.gz$/. */
export function lockedFile(ctx: Pick<PhaseContext, "lock">, pattern: RegExp, what: string): LockFile {
  const lock = requireLock(ctx);
  const hits = lock.files.filter((f) => pattern.test(f.path));
  if (hits.length !== 1)
    throw new InstallError(`the ${lock.profile} bundle has ${hits.length ? "several" : "no"} ${what} (looked for ${pattern}); re-assemble the bundle`);
  return hits[0]!;
}

/**
 * Where nodes download payloads: a directory only root can enter, under the node's own state
 * directory. A fresh `mktemp -d` inside it per download, so no path is predictable (the old
 * /tmp/k8s-ha-offline-<name>.part let a local user pre-create the file and rewrite it between the
 * sha256 check and the install: a swapped runc ran as root).
 */
export const NODE_STATE_DIR = "/var/lib/k8s-ha-offline-node";
export const DOWNLOAD_DIR = `${NODE_STATE_DIR}/tmp`;

// Exit codes of the download script, so the message says which step failed; the install
// command's own codes (tar, install: 1, 2) pass through.
const REFUSED_DIR = 90;
const DOWNLOAD_FAILED = 91;
const CHECKSUM_MISMATCH = 92;

/**
 * One remote script: make the root-only download directory (refused when it is a symlink or not
 * root's), remove the leftovers of downloads whose shell is gone (a cut connection), download the file
 * from the first of `urls` that serves it (one per depot: a master that is down costs one failed
 * connection) into a fresh 0700 directory, check its sha256, and run `then` on that same file with $FILE set
 * (TMPDIR points into the private directory too, so an install's own mktemp is private as well).
 * The directory is removed on every exit.
 */
export function verifiedDownloadScript(o: { urls: readonly string[]; sha256: string; name: string; base: string; then: ShellCommand; ca: string }): ShellCommand {
  return shJoin(
    [
      sh`set -e`,
      // Values are set once and then only read as "$var" (the EXIT trap's text is parsed again when it fires).
      sh`base=${o.base}; want=${o.sha256}`,
      sh`trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 141' PIPE; trap 'exit 143' TERM`,
      // The node state dir above it is an ordinary 0755 directory, whoever makes it first (an install
      // resumed after a cut must leave the same modes as an uninterrupted one).
      sh`(umask 022; mkdir -p -- "$(dirname -- "$base")") 2>/dev/null || true`,
      sh`umask 077`,
      // A symlink (even a dangling one) or a file in the way makes mkdir fail: the check below names it.
      sh`mkdir -p -- "$base" 2>/dev/null || true`,
      sh`if [ -L "$base" ] || [ ! -d "$base" ] || [ "$(stat -c %u -- "$base")" != 0 ]; then echo "$base is a symlink or not a directory owned by root; refusing to download into it (remove it: rm -rf $base)" >&2; exit ${REFUSED_DIR}; fi`,
      sh`chmod 0700 -- "$base"`,
      // dl.<pid of the downloading shell>.<random>: a directory whose shell is gone is a leftover.
      sh`for old in "$base"/dl.*; do [ -d "$old" ] || continue; pid=\${old#"$base"/dl.}; pid=\${pid%%.*}; kill -0 "$pid" 2>/dev/null || rm -rf -- "$old"; done`,
      sh`dir=$(mktemp -d "$base/dl.$$.XXXXXXXX")`,
      sh`trap 'rm -rf -- "$dir"' EXIT`,
      sh`file="$dir"/${o.name}`,
      // TLS only, verified against the depot CA the trust phase put on the node. Each depot in turn; what
      // each failed one said is kept for the error when none serves the file.
      sh`from=`,
      sh`for url in ${o.urls}; do if curl -fsS --proto =https --cacert ${o.ca} --retry 2 --connect-timeout 5 -o "$file" "$url" 2>"$dir/curl.err"; then from=$url; break; fi; echo "$url: $(cat "$dir/curl.err")" >&2; done`,
      sh`[ -n "$from" ] || exit ${DOWNLOAD_FAILED}`,
      sh`sum=$(sha256sum < "$file"); sum=\${sum%% *}`,
      sh`if [ "$sum" != "$want" ]; then echo "$from has sha256 $sum, the bundle lock says $want" >&2; exit ${CHECKSUM_MISMATCH}; fi`,
      // Checked and used in the same script: nobody but root can reach the file in between.
      sh`export FILE="$file" TMPDIR="$dir"`,
      // The usual umask again for what `then` creates (directories on the way to a destination, extracted files).
      sh`(umask 022; ${o.then})`,
    ],
    "\n",
  );
}

/** Run `then` on a verified download of `url` (see verifiedDownloadScript); `what` names the step for errors. */
export async function verifiedDownload(
  host: Host,
  o: { urls: readonly string[]; sha256: string; name: string; then: ShellCommand; what: string; base?: string; timeoutMs?: number; ca?: string },
): Promise<void> {
  const base = o.base ?? DOWNLOAD_DIR;
  // The depot CA the trust phase put on the node (a test passes its own).
  const script = verifiedDownloadScript({ urls: o.urls, sha256: o.sha256, name: o.name, base, then: o.then, ca: o.ca ?? NODE_DEPOT_CA });
  const r = await host.exec(script, { check: false, timeoutMs: o.timeoutMs ?? 900_000 });
  if (r.code === 0) return;
  const said = r.stderr.trim().split("\n").join("; ");
  const failure =
    r.code === REFUSED_DIR ? `cannot use the download directory on the node: ${said}`
    : r.code === DOWNLOAD_FAILED ? `could not download ${o.name} from any depot (${said || `curl exit ${r.code}`}); start a depot (systemctl start k8s-ha-offline-depot on a master) or check the network`
    : r.code === CHECKSUM_MISMATCH ? `${o.name} is not the file of the bundle lock (${said}): nothing was installed; check that the depots serve this bundle`
    : `${o.what} failed (exit ${r.code}): ${said || r.stdout.trim()}`;
  throw new HostError(host.name, failure, r);
}

/** Where a bundle file is on each depot, in the order `node` tries them, and what it must hash to. */
export const depotFile = (ctx: Pick<PhaseContext, "config">, file: LockFile, node: string) => ({
  urls: depotsFor(ctx.config, node).map((d) => `${depotUrl(d)}/${file.path}`),
  sha256: file.sha256,
  name: basename(file.path),
});

/**
 * Download a bundle file from the depots to `dest` on the node, verified by sha256 before it is
 * moved in place. `dest` must be in a directory only root can write (it is replaced by rename).
 */
export async function fetchVerified(host: Host, ctx: Pick<PhaseContext, "config">, file: LockFile, dest: string, ca = NODE_DEPOT_CA): Promise<void> {
  await verifiedDownload(host, {
    ...depotFile(ctx, file, host.name),
    ca,
    // Readable as the old download was (umask 022); the private directory's umask is 077.
    then: sh`chmod 0644 "$FILE" && mkdir -p -- ${dirname(dest)} && mv -f -- "$FILE" ${dest}`,
    what: `placing ${file.path} at ${dest}`,
  });
}
