// yum on Enterprise Linux nodes: one .repo file for the depot, and every other repository disabled
// for the install.
import { sh } from "../util/sh.ts";
import { REPO_FILE_HEADER, depotRepoUrl } from "./depot-repo.ts";
import type { PackageManager } from "./profile.ts";

const YUM_REPO = "/etc/yum.repos.d/k8s-ha-offline.repo";
const REPO_ID = "k8s-ha-offline";

/** /etc/yum.repos.d/k8s-ha-offline.repo — the only enabled repository (install with --disablerepo='*' --enablerepo=k8s-ha-offline). */
export function renderYumRepo(depotUrl: string, profile: string): string {
  return [
    REPO_FILE_HEADER,
    "# gpgcheck=0: the RPMs keep their upstream signatures, but the vendors' keys are not on an offline",
    "# node; every package was checked against the sha256 sums of the upstream repository metadata at",
    "# bundle time and against the lock embedded in the installer before it served anything.",
    `[${REPO_ID}]`,
    `name=k8s-ha-offline depot (${profile})`,
    `baseurl=${depotRepoUrl(depotUrl, profile)}`,
    "enabled=1",
    "gpgcheck=0",
    "repo_gpgcheck=0",
    "skip_if_unavailable=0",
    // The depot never changes during an install; don't let an expired cache trigger a refetch mid-run.
    "metadata_expire=never",
    "",
  ].join("\n");
}

export const yum: PackageManager = {
  format: "rpm",
  repoPath: YUM_REPO,
  renderRepo: renderYumRepo,
  installed: (names) =>
    sh`rpm -q --qf '%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n' ${names} 2>/dev/null | grep -v 'not installed'`,
  install: (pkgs) => sh`yum --disablerepo='*' --enablerepo=${REPO_ID} install -y ${pkgs.map((p) => `${p.name}-${p.version}`)}`,
};
