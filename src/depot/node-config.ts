// Files that point a node's container runtime at the depot on master1 instead of the internet (the
// package manager's repository file is the OS profile's: src/profiles/apt.ts, yum.ts). Pure functions:
// the phases write what these return. depotUrl is the depot as nodes reach it, e.g. https://192.168.217.19:5000.
// The depot speaks TLS only, and every runtime verifies it against the depot CA the trust phase put at
// NODE_DEPOT_CA: no skip_verify, no insecure registry.
import { NODE_DEPOT_CA } from "./trust-paths.ts";

const trimSlash = (u: string) => u.replace(/\/+$/, "");

/** Host (and port) of a URL, for registry configuration. */
function hostPort(url: string): string {
  return new URL(url).host;
}

/**
 * /etc/containerd/certs.d/<upstreamRegistry>/hosts.toml: pulls of <upstreamRegistry>/x:y go to the
 * depot over TLS (verified against the depot CA) and never to the internet; `server` is set to the depot
 * too, so a depot miss fails fast instead of timing out against an unreachable upstream.
 */
export function renderContainerdHostsToml(upstreamRegistry: string, depotUrl: string, caPath = NODE_DEPOT_CA): string {
  const depot = trimSlash(depotUrl);
  if (!depot.startsWith("https://")) throw new Error(`the depot must be reached over https, got ${depot}`);
  return [
    `# Written by k8s-ha-offline: ${upstreamRegistry} images are served by the depot on master1 (TLS, depot CA).`,
    `server = "${depot}"`,
    "",
    `[host."${depot}"]`,
    `  capabilities = ["pull", "resolve"]`,
    `  ca = ${JSON.stringify(caPath)}`,
    "",
  ].join("\n");
}

/** The directory under /etc/containerd/certs.d for an upstream registry (docker.io's is special-cased upstream too). */
export function containerdHostsDir(upstreamRegistry: string): string {
  return `/etc/containerd/certs.d/${upstreamRegistry}`;
}

/** Where docker looks for the CA of a registry: /etc/docker/certs.d/<host:port>/ca.crt (it holds the depot CA). */
export function dockerRegistryCaPath(depotHostPort: string): string {
  return `/etc/docker/certs.d/${depotHostPort}/ca.crt`;
}

/** /etc/docker/daemon.json for the docker runtime (as in the reference guide, ../shared/seed/): the depot as mirror, over TLS. */
export function renderDockerDaemonJson(depotHostPort: string): string {
  const config = {
    "exec-opts": ["native.cgroupdriver=systemd"],
    // Docker only mirrors docker.io; other registries' images are pulled as <depot>/<repo> by kubeadm's
    // imageRepository. Both verify the depot with certs.d/<depot>/ca.crt (dockerRegistryCaPath).
    "registry-mirrors": [`https://${depotHostPort}`],
    "log-driver": "json-file",
    "log-opts": { "max-size": "100m" },
    "storage-driver": "overlay2",
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

export { hostPort as depotHostPort };
