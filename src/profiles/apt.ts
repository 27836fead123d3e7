// apt on Debian-like nodes: one source naming the depots' flat repository through apt's mirror method
// (mirror+file:), verified twice over — TLS against the depot CA (an apt.conf.d file:
// Acquire::https::<depot>::CaInfo for every depot) and the repository's InRelease against the cluster's
// signing key (signed-by=) — and apt-get told to read that source alone.
import { sh, shJoin } from "../util/sh.ts";
import { REPO_FILE_HEADER, depotRepoUrl } from "./depot-repo.ts";
import type { PackageManager, RepoFile } from "./profile.ts";
import { NODE_DEPOT_CA, NODE_REPO_KEY_GPG } from "../depot/trust-paths.ts";

const APT_LIST = "/etc/apt/sources.list.d/k8s-ha-offline.list";
const APT_CONF = "/etc/apt/apt.conf.d/60k8s-ha-offline-depot";
/** Not under sources.list.d: apt would read it as a source list. */
export const APT_MIRRORS = "/etc/apt/k8s-ha-offline.mirrors";

/**
 * /etc/apt/sources.list.d/k8s-ha-offline.list — the bundle's flat repository, signed with the cluster's key,
 * on the depots of APT_MIRRORS. apt's mirror method (apt ≥ 1.6; Debian 12 has 2.6) fetches each file from the
 * first mirror of the list and moves to the next when one fails, for the index and for every .deb, so one
 * master down costs one failed connection per file, and `apt-get update` does not fail while any depot answers.
 */
export function renderAptSource(mirrorList = APT_MIRRORS): string {
  // signed-by: apt accepts the repository only with an InRelease (or Release + Release.gpg) made with the
  // cluster's key, whose public half the trust phase put on the node over SSH; Packages and every .deb
  // are then pinned by the sha256 sums of the signed Release. No other key on the node is consulted.
  return [REPO_FILE_HEADER, `deb [signed-by=${NODE_REPO_KEY_GPG}] mirror+file:${mirrorList} ./`, ""].join("\n");
}

/** APT_MIRRORS: the profile's repository on every depot, in the order the node tries them. */
export function renderAptMirrors(depotUrls: readonly string[], profile: string): string {
  // apt's mirror method contacts mirrors without a priority in random order: the priorities keep ours (the
  // node's own depot first, then master1's, then the others) and the next one is still tried on failure.
  return [...depotUrls.map((u, i) => `${depotRepoUrl(u, profile)}\tpriority:${i + 1}`), ""].join("\n");
}

/** The depot's host as apt's per-host options name it (an IPv6 address without its brackets). */
const aptHost = (depotUrl: string) => new URL(depotUrl).hostname.replace(/^\[(.*)\]$/, "$1");

/** /etc/apt/apt.conf.d/60k8s-ha-offline-depot — every depot's TLS certificate is checked against the depot CA. */
export function renderAptDepotConf(depotUrls: readonly string[]): string {
  return [
    "// Written by k8s-ha-offline: the depots on the masters are verified against the depot CA (TLS), for every apt run.",
    ...[...new Set(depotUrls.map(aptHost))].flatMap((h) => [
      `Acquire::https::${h}::CaInfo "${NODE_DEPOT_CA}";`,
      `Acquire::https::${h}::Verify-Peer "true";`,
      `Acquire::https::${h}::Verify-Host "true";`,
    ]),
    // With several depots the next one in the mirror list is the retry: apt's own retries of a depot that is
    // down (3, with 1+2+4 s back-off) would cost 7 s for every file while a master is off.
    ...(depotUrls.length > 1 ? ['Acquire::Retries "0";'] : []),
    "",
  ].join("\n");
}

// apt looks only at the depots, whatever else the node has configured.
// An apt still running from an interrupted run (the installer killed, its SSH session gone) holds
// the dpkg lock for a while: wait for it rather than fail.
const ONLY_DEPOT = sh`-o Dir::Etc::sourcelist=${APT_LIST} -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 -o DPkg::Lock::Timeout=300`;

export const apt: PackageManager = {
  format: "deb",
  repoFiles: (depotUrls, profile): RepoFile[] => [
    { path: APT_LIST, content: renderAptSource() },
    { path: APT_MIRRORS, content: renderAptMirrors(depotUrls, profile) },
    { path: APT_CONF, content: renderAptDepotConf(depotUrls) },
  ],
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

