// Static tarballs (containerd, etcd, CNI plugins, Kubernetes binaries) are installed once per
// locked sha256: a marker on the node records which payload is in place, so re-runs are cheap
// and a new bundle version is noticed.
import type { Host } from "../../hosts/host.ts";
import type { LockFile } from "../../depot/lock.ts";
import type { PhaseContext } from "../phase.ts";
import { NODE_STATE_DIR, depotFile, verifiedDownload } from "./depot-files.ts";
import { sh, type ShellCommand } from "../../util/sh.ts";

const MARKERS = `${NODE_STATE_DIR}/installed`;
const marker = (name: string) => `${MARKERS}/${name}.sha256`;

export async function tarballInstalled(host: Host, name: string, file: LockFile): Promise<boolean> {
  const cur = await host.readFile(marker(name));
  return cur !== null && new TextDecoder().decode(cur).trim() === file.sha256;
}

/**
 * Fetch `file` from the depot and run `install` with $TARBALL set to its path on the node, in the
 * same remote command that checked its sha256, inside a directory only root can enter (see
 * verifiedDownload); the marker is written only after the install command succeeded.
 */
export async function installTarball(host: Host, ctx: PhaseContext, name: string, file: LockFile, install: ShellCommand): Promise<void> {
  await verifiedDownload(host, {
    ...depotFile(ctx, file, host.name),
    then: sh`TARBALL="$FILE"; set -e; ${install}`,
    what: `installing ${file.path}`,
  });
  await host.exec(sh`mkdir -p ${MARKERS}`);
  await host.writeFile(marker(name), `${file.sha256}\n`, { mode: 0o644 });
}
