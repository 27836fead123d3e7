// Files that point a node's container runtime at the depots on the masters instead of the internet (the
// package manager's repository file is the OS profile's: src/profiles/apt.ts, yum.ts). Pure functions:
// the phases write what these return. A depot URL is a depot as nodes reach it, e.g. https://192.168.217.19:5000.
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
 * depots over TLS (verified against the depot CA) and never to the internet. containerd tries the
 * [host] entries in the order written and moves to the next when one fails (refused, unreachable,
 * 5xx), so listing every master's depot is what lets a node pull while a master is down. `server`
 * is the first depot too, so a miss everywhere fails fast instead of timing out against an upstream.
 */
export function renderContainerdHostsToml(upstreamRegistry: string, depotUrls: readonly string[], caPath = NODE_DEPOT_CA): string {
  const depots = depotUrls.map(trimSlash);
  if (depots.length === 0) throw new Error(`no depot to mirror ${upstreamRegistry} to`);
  for (const d of depots) if (!d.startsWith("https://")) throw new Error(`the depot must be reached over https, got ${d}`);
  return [
    `# Written by k8s-ha-offline: ${upstreamRegistry} images are served by the depots on the masters (TLS, depot CA), tried in this order.`,
    `server = "${depots[0]}"`,
    ...depots.flatMap((d) => ["", `[host."${d}"]`, `  capabilities = ["pull", "resolve"]`, `  ca = ${JSON.stringify(caPath)}`]),
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

/** docker's cgroup driver as daemon.json sets it: the kubelet's (KubeletConfiguration cgroupDriver) must be the same. */
export const DOCKER_CGROUP_DRIVER = "systemd";

/**
 * /etc/docker/daemon.json for the docker runtime (as in the reference guide, ../shared/seed/): systemd
 * cgroups (what the kubelet is configured with), every depot as a mirror over TLS in order (docker tries
 * the next mirror when one fails), json-file logs rotated so a chatty container cannot fill /var, and
 * the storage driver the node's filesystem allows: overlay2, or vfs inside a container (the lab), where
 * overlayfs cannot stack on the container's own overlay root (containerd uses `native` there for the
 * same reason).
 */
export function renderDockerDaemonJson(depotHostPorts: readonly string[], storageDriver: "overlay2" | "vfs" = "overlay2"): string {
  if (depotHostPorts.length === 0) throw new Error("no depot for docker to pull from");
  const config = {
    "exec-opts": [`native.cgroupdriver=${DOCKER_CGROUP_DRIVER}`],
    // Docker only mirrors docker.io; other registries' images are pulled by the installer as
    // <depot>/<repo>@<digest> from each depot in turn (src/cluster/images.ts). All verify the depot with
    // certs.d/<depot>/ca.crt (dockerRegistryCaPath): no insecure-registries.
    "registry-mirrors": depotHostPorts.map((d) => `https://${d}`),
    "log-driver": "json-file",
    "log-opts": { "max-size": "100m", "max-file": "3" },
    "storage-driver": storageDriver,
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

export { hostPort as depotHostPort };
