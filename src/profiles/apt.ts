// apt on Debian-like nodes: one source list naming the depot's flat repository, verified twice over —
// TLS against the depot CA (an apt.conf.d file: Acquire::https::<depot>::CaInfo) and the repository's
// InRelease against the cluster's signing key (signed-by=) — and apt-get told to read that list alone.
import { sh, shJoin } from "../util/sh.ts";
import { REPO_FILE_HEADER, depotRepoUrl } from "./depot-repo.ts";
import type { PackageManager, RepoFile } from "./profile.ts";
import { NODE_DEPOT_CA, NODE_REPO_KEY_GPG } from "../depot/trust-paths.ts";

const APT_LIST = "/etc/apt/sources.list.d/k8s-ha-offline.list";
const APT_CONF = "/etc/apt/apt.conf.d/60k8s-ha-offline-depot";

/** /etc/apt/sources.list.d/k8s-ha-offline.list — the bundle's flat repository, signed with the cluster's key. */
export function renderAptSource(depotUrl: string, profile: string): string {
  // signed-by: apt accepts the repository only with an InRelease (or Release + Release.gpg) made with the
  // cluster's key, whose public half the trust phase put on the node over SSH; Packages and every .deb
  // are then pinned by the sha256 sums of the signed Release. No other key on the node is consulted.
  return [REPO_FILE_HEADER, `deb [signed-by=${NODE_REPO_KEY_GPG}] ${depotRepoUrl(depotUrl, profile)} ./`, ""].join("\n");
}

/** The depot's host as apt's per-host options name it (an IPv6 address without its brackets). */
const aptHost = (depotUrl: string) => new URL(depotUrl).hostname.replace(/^\[(.*)\]$/, "$1");

/** /etc/apt/apt.conf.d/60k8s-ha-offline-depot — the depot's TLS certificate is checked against the depot CA. */
export function renderAptDepotConf(depotUrl: string): string {
  return [
    "// Written by k8s-ha-offline: the depot on master1 is verified against the depot CA (TLS), for every apt run.",
    `Acquire::https::${aptHost(depotUrl)}::CaInfo "${NODE_DEPOT_CA}";`,
    `Acquire::https::${aptHost(depotUrl)}::Verify-Peer "true";`,
    `Acquire::https::${aptHost(depotUrl)}::Verify-Host "true";`,
    "",
  ].join("\n");
}

// apt looks only at the depot, whatever else the node has configured.
// An apt still running from an interrupted run (the installer killed, its SSH session gone) holds
// the dpkg lock for a while: wait for it rather than fail.
const ONLY_DEPOT = sh`-o Dir::Etc::sourcelist=${APT_LIST} -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 -o DPkg::Lock::Timeout=300`;

export const apt: PackageManager = {
  format: "deb",
  repoPath: APT_LIST,
  renderRepo: renderAptSource,
  trustFiles: (depotUrl): RepoFile[] => [{ path: APT_CONF, content: renderAptDepotConf(depotUrl) }],
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
