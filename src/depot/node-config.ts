// Files that point a node's container runtime at the depot on master1 instead of the internet (the
// package manager's repository file is the OS profile's: src/profiles/apt.ts, yum.ts). Pure functions:
// the phases write what these return. depotUrl is the depot as nodes reach it, e.g. http://192.168.217.19:5000.

const trimSlash = (u: string) => u.replace(/\/+$/, "");

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
