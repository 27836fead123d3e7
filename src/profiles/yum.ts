// yum on Enterprise Linux nodes: one .repo file for the depots, verified over TLS against the depot CA and
// by the signature of its repomd.xml, and every other repository disabled for the install.
import { sh } from "../util/sh.ts";
import { REPO_FILE_HEADER, depotRepoUrl } from "./depot-repo.ts";
import type { PackageManager } from "./profile.ts";
import { NODE_DEPOT_CA, NODE_REPO_KEY_ASC } from "../depot/trust-paths.ts";

const YUM_REPO = "/etc/yum.repos.d/k8s-ha-offline.repo";
const REPO_ID = "k8s-ha-offline";

/**
 * /etc/yum.repos.d/k8s-ha-offline.repo — the only enabled repository (install with --disablerepo='*'
 * --enablerepo=k8s-ha-offline), on every depot: yum and dnf fetch from the first baseurl and move to the
 * next when one fails (failovermethod=priority keeps el7's yum in this order instead of a random start;
 * dnf always goes in order).
 */
export function renderYumRepo(depotUrls: readonly string[], profile: string): string {
  const [first, ...rest] = depotUrls.map((u) => depotRepoUrl(u, profile));
  if (!first) throw new Error("no depot for the yum repository");
  return [
    REPO_FILE_HEADER,
    "# The depot is verified over TLS against the depot CA, and its repodata/repomd.xml against the",
    "# cluster's repository key (repo_gpgcheck=1; the public key was put here over SSH). The signed",
    "# repomd.xml pins the checksum of the primary metadata, which pins each package's sha256, so a",
    "# package that is not exactly the bundled one is refused. Per-package signatures are not checked",
    "# (gpgcheck off) because the bundle does not carry the vendors' RPM keys; that is acceptable only",
    "# together with repo_gpgcheck=1, which must never be turned off here.",
    `[${REPO_ID}]`,
    `name=k8s-ha-offline depot (${profile})`,
    // One URL a line, the others indented: the continuation form yum and dnf both read.
    `baseurl=${first}`,
    ...rest.map((u) => `        ${u}`),
    "failovermethod=priority",
    "enabled=1",
    `sslcacert=${NODE_DEPOT_CA}`,
    "sslverify=1",
    "repo_gpgcheck=1",
    `gpgkey=file://${NODE_REPO_KEY_ASC}`,
    "gpgcheck=0",
    "skip_if_unavailable=0",
    // The depot never changes during an install; don't let an expired cache trigger a refetch mid-run.
    "metadata_expire=never",
    "",
  ].join("\n");
}

export const yum: PackageManager = {
  format: "rpm",
  // Everything yum needs to verify the depots is in the .repo file itself.
  repoFiles: (depotUrls, profile) => [{ path: YUM_REPO, content: renderYumRepo(depotUrls, profile) }],
  installed: (names) =>
    sh`rpm -q --qf '%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n' ${names} 2>/dev/null | grep -v 'not installed'`,
  install: (pkgs) => sh`yum --disablerepo='*' --enablerepo=${REPO_ID} install -y ${pkgs.map((p) => `${p.name}-${p.version}`)}`,
};
