// Files that point a node at the depot on master1 instead of the internet. Pure functions: the phases
// write what these return. depotUrl is the depot as nodes reach it, e.g. http://192.168.217.19:5000.

const trimSlash = (u: string) => u.replace(/\/+$/, "");

/** /etc/apt/sources.list.d/k8s-ha-offline.list — the bundle's flat repository. */
export function renderAptSource(depotUrl: string, profile: string): string {
  // trusted=yes: the flat repository is generated at bundle time and not signed; its integrity comes
  // from the lock the installer verified on master1 and from the sha256 sums in Packages/Release.
  return [
    "# Written by k8s-ha-offline: packages come from the depot on master1 (air-gapped site).",
    `deb [trusted=yes] ${trimSlash(depotUrl)}/repo/${profile}/ ./`,
    "",
  ].join("\n");
}

/** /etc/yum.repos.d/k8s-ha-offline.repo — the only enabled repository (install with --disablerepo='*' --enablerepo=k8s-ha-offline). */
export function renderYumRepo(depotUrl: string, profile: string): string {
  return [
    "# Written by k8s-ha-offline: packages come from the depot on master1 (air-gapped site).",
    "# gpgcheck=0: the RPMs keep their upstream signatures, but the vendors' keys are not on an offline",
    "# node; every package was checked against the sha256 sums of the upstream repository metadata at",
    "# bundle time and against the lock embedded in the installer before it served anything.",
    "[k8s-ha-offline]",
    `name=k8s-ha-offline depot (${profile})`,
    `baseurl=${trimSlash(depotUrl)}/repo/${profile}/`,
    "enabled=1",
    "gpgcheck=0",
    "repo_gpgcheck=0",
    "skip_if_unavailable=0",
    // The depot never changes during an install; don't let an expired cache trigger a refetch mid-run.
    "metadata_expire=never",
    "",
  ].join("\n");
}

/** Host (and port) of a URL, for registry configuration. */
function hostPort(url: string): string {
  return new URL(url).host;
}

/**
 * /etc/containerd/certs.d/<upstreamRegistry>/hosts.toml: pulls of <upstreamRegistry>/x:y go to the
 * depot (plain HTTP) and never to the internet; `server` is set to the depot too, so a depot miss fails
 * fast instead of timing out against an unreachable upstream.
 */
export function renderContainerdHostsToml(upstreamRegistry: string, depotUrl: string): string {
  const depot = trimSlash(depotUrl);
  return [
    `# Written by k8s-ha-offline: ${upstreamRegistry} images are served by the depot on master1.`,
    `server = "${depot}"`,
    "",
    `[host."${depot}"]`,
    `  capabilities = ["pull", "resolve"]`,
    `  skip_verify = true`,
    "",
  ].join("\n");
}

/** The directory under /etc/containerd/certs.d for an upstream registry (docker.io's is special-cased upstream too). */
export function containerdHostsDir(upstreamRegistry: string): string {
  return `/etc/containerd/certs.d/${upstreamRegistry}`;
}

/** /etc/docker/daemon.json for the docker runtime (as in the reference guide, ../shared/seed/): depot as insecure registry and mirror. */
export function renderDockerDaemonJson(depotHostPort: string): string {
  const config = {
    "exec-opts": ["native.cgroupdriver=systemd"],
    "insecure-registries": [depotHostPort],
    // Docker only mirrors docker.io; other registries' images are pulled as <depot>/<repo> by kubeadm's imageRepository.
    "registry-mirrors": [`http://${depotHostPort}`],
    "log-driver": "json-file",
    "log-opts": { "max-size": "100m" },
    "storage-driver": "overlay2",
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

export { hostPort as depotHostPort };
