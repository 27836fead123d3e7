// Static tarballs (containerd, etcd, CNI plugins, Kubernetes binaries) are installed once per
// locked sha256: a marker on the node records which payload is in place, so re-runs are cheap
// and a new bundle version is noticed.
import type { Host } from "../../hosts/host.ts";
import type { LockFile } from "../../depot/lock.ts";
import type { PhaseContext } from "../phase.ts";
import { fetchVerified } from "./depot-files.ts";
import { isShellCommand, sh, shellScript, type ShellCommand } from "../../util/sh.ts";

const MARKERS = "/var/lib/k8s-ha-offline-node/installed";
const marker = (name: string) => `${MARKERS}/${name}.sha256`;

export async function tarballInstalled(host: Host, name: string, file: LockFile): Promise<boolean> {
  const cur = await host.readFile(marker(name));
  return cur !== null && new TextDecoder().decode(cur).trim() === file.sha256;
}

/**
 * Fetch `file` from the depot and run `install` with $TARBALL set to its path on the node;
 * the marker is written only after the install command succeeded.
 */
export async function installTarball(host: Host, ctx: PhaseContext, name: string, file: LockFile, install: ShellCommand): Promise<void> {
  const tmp = `/tmp/k8s-ha-offline-${file.path.split("/").pop()}`;
  await fetchVerified(host, ctx, file, tmp);
  const r = await host.exec(sh`TARBALL=${tmp}; set -e; ${install}`, { check: false, timeoutMs: 300_000 });
  await host.exec(sh`rm -f ${tmp}`, { check: false });
  if (r.code !== 0) throw new Error(`installing ${file.path} failed: ${(r.stderr || r.stdout).trim()}`);
  await host.exec(sh`mkdir -p ${MARKERS}`);
  await host.writeFile(marker(name), `${file.sha256}\n`, { mode: 0o644 });
}
