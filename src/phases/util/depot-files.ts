// Nodes fetch payload files from the depot on master1 and check them against the embedded lock,
// so a file corrupted on the way is never installed.
import type { PhaseContext } from "../phase.ts";
import type { Host } from "../../hosts/host.ts";
import type { BundleLock, LockFile } from "../../depot/lock.ts";
import { dirname } from "node:path";
import { sh, shJoin } from "../../util/sh.ts";
import { depotUrl } from "../../depot/endpoint.ts";
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

/** Download a bundle file from the depot to `dest` on the node, verified by sha256 before it is moved in place. */
export async function fetchVerified(host: Host, ctx: Pick<PhaseContext, "depot">, file: LockFile, dest: string): Promise<void> {
  const url = `${depotUrl(ctx.depot)}/${file.path}`;
  const tmp = `${dest}.part`;
  const r = await host.exec(
    shJoin(
      [
        sh`mkdir -p ${dirname(dest)}`,
        // TLS only, verified against the depot CA the trust phase put on the node.
        sh`curl -fsS --proto =https --cacert ${NODE_DEPOT_CA} --retry 3 --connect-timeout 5 -o ${tmp} ${url}`,
        sh`echo ${`${file.sha256}  ${tmp}`} | sha256sum -c --status`,
        sh`mv -f ${tmp} ${dest}`,
      ],
      " && ",
    ),
    { check: false, timeoutMs: 600_000 },
  );
  if (r.code !== 0) {
    await host.exec(sh`rm -f ${tmp}`, { check: false });
    throw new Error(`could not fetch ${url} (sha256 ${file.sha256.slice(0, 12)}…) to ${dest}: ${r.stderr.trim() || "checksum mismatch"}`);
  }
}
