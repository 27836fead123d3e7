// apt on Debian-like nodes: one source list naming the depot's flat repository, and apt-get told to
// read that list alone.
import { sh, shJoin } from "../util/sh.ts";
import { REPO_FILE_HEADER, depotRepoUrl } from "./depot-repo.ts";
import type { PackageManager } from "./profile.ts";

const APT_LIST = "/etc/apt/sources.list.d/k8s-ha-offline.list";

/** /etc/apt/sources.list.d/k8s-ha-offline.list — the bundle's flat repository. */
export function renderAptSource(depotUrl: string, profile: string): string {
  // trusted=yes: the flat repository is generated at bundle time and not signed; its integrity comes
  // from the lock the installer verified on master1 and from the sha256 sums in Packages/Release.
  return [REPO_FILE_HEADER, `deb [trusted=yes] ${depotRepoUrl(depotUrl, profile)} ./`, ""].join("\n");
}

// apt looks only at the depot, whatever else the node has configured.
// An apt still running from an interrupted run (the installer killed, its SSH session gone) holds
// the dpkg lock for a while: wait for it rather than fail.
const ONLY_DEPOT = sh`-o Dir::Etc::sourcelist=${APT_LIST} -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 -o DPkg::Lock::Timeout=300`;

export const apt: PackageManager = {
  format: "deb",
  repoPath: APT_LIST,
  renderRepo: renderAptSource,
  installed: (names) =>
    sh`dpkg-query -W -f='\${Package} \${Version} \${db:Status-Abbrev}\\n' ${names} 2>/dev/null | awk '$3 ~ /^ii/ {print $1, $2}'`,
  install: (pkgs) =>
    shJoin(
      [
        // A node that lost power in the middle of dpkg needs its half-configured packages finished first.
        sh`export DEBIAN_FRONTEND=noninteractive; dpkg --configure -a --force-confdef --force-confold >/dev/null 2>&1; apt-get ${ONLY_DEPOT} update -qq`,
        sh`apt-get ${ONLY_DEPOT} install -y -qq --no-install-recommends --allow-downgrades ${pkgs.map((p) => `${p.name}=${p.version}`)}`,
      ],
      " && ",
    ),
};
