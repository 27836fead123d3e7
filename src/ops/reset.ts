// `reset`: undo what install did on a node. The footprint below is what the phases write (a unit test
// holds it against their constants, so a phase that adds a file must add it here too): services
// stopped and disabled, units and drop-ins, configs, data directories, certificates, the managed
// /etc/hosts block, the depot's repository source, the VIP, this binary and its state. Packages the
// install added (recorded by the packages phase) are removed only with --purge-packages.
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import { controlPlanes, etcdMembers, firstMaster, hasRole } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import { findProfile } from "../profiles/index.ts";
import { NODE_ETC_DIR } from "../depot/trust-paths.ts";
import { PACKAGES_ADDED } from "../cluster/packages-added.ts";
import { restoreChronyOriginal } from "../cluster/chrony-original.ts";
import { sh, shJoin, type ShellCommand } from "../util/sh.ts";

export const HOSTS_BEGIN = "# BEGIN k8s-ha-offline managed block";
export const HOSTS_END = "# END k8s-ha-offline managed block";

/** Services the install runs, stopped and disabled first (the depot only on master1). */
export const RESET_SERVICES = ["kubelet", "etcd", "haproxy", "keepalived", "docker", "containerd", "k8s-ha-offline-depot", "k8s-ha-offline-backup.timer"];

/** Files and directories the install writes on every node (those absent are skipped). */
export const RESET_PATHS = [
  // Kubernetes and its kubelet
  "/etc/kubernetes", "/var/lib/kubelet", "/etc/cni/net.d", "/var/lib/cni", "/run/flannel", "/root/.kube/config",
  "/usr/bin/kubeadm", "/usr/bin/kubelet", "/usr/bin/kubectl",
  "/etc/systemd/system/kubelet.service", "/etc/systemd/system/kubelet.service.d",
  // etcd
  "/var/lib/etcd", "/etc/etcd", "/usr/local/bin/etcd", "/usr/local/bin/etcdctl", "/etc/systemd/system/etcd.service",
  // the container runtime
  "/etc/systemd/system/containerd.service", "/etc/containerd", "/var/lib/containerd", "/run/containerd", "/opt/cni",
  "/usr/local/bin/containerd", "/usr/local/bin/containerd-shim", "/usr/local/bin/containerd-shim-runc-v1", "/usr/local/bin/containerd-shim-runc-v2",
  "/usr/local/bin/containerd-stress", "/usr/local/bin/ctr", "/usr/local/sbin/runc",
  "/etc/systemd/system/docker.service", "/etc/docker", "/var/lib/docker", "/run/docker", "/usr/local/bin/docker", "/usr/local/bin/dockerd", "/usr/local/bin/docker-init", "/usr/local/bin/docker-proxy",
  // the load balancer (configs; the packages stay unless purged)
  "/etc/haproxy/haproxy.cfg", "/etc/keepalived/keepalived.conf", "/etc/keepalived/check_apiserver_lb.sh", "/etc/keepalived/k8s-ha-offline.apiserver-answered",
  // the OS settings
  "/etc/modules-load.d/k8s.conf", "/etc/sysctl.d/99-kubernetes.conf", "/etc/fstab.k8s-ha-offline.bak",
  // chrony's drop-ins (its config file is put back from the copy the time phase kept: see resetServicesScript)
  "/etc/systemd/system/chrony.service.d/k8s-ha-offline.conf", "/etc/systemd/system/chronyd.service.d/k8s-ha-offline.conf",
  // the repository source, trust, binary, markers, depot and backup units
  "/etc/apt/sources.list.d/k8s-ha-offline.list", "/etc/apt/apt.conf.d/60k8s-ha-offline-depot", "/etc/apt/k8s-ha-offline.mirrors", "/etc/yum.repos.d/k8s-ha-offline.repo", NODE_ETC_DIR,
  // the private download directory (the node state dir itself goes with --purge-packages: it holds the packages record)
  "/var/lib/k8s-ha-offline-node/tmp",
  "/usr/local/bin/k8s-ha-offline", "/etc/systemd/system/k8s-ha-offline-depot.service", "/var/log/k8s-ha-offline", "/var/lib/k8s-ha-offline-depot",
  "/etc/systemd/system/k8s-ha-offline-backup.service", "/etc/systemd/system/k8s-ha-offline-backup.timer",
];

export interface ResetOptions {
  purgePackages: boolean;
}

export interface NodeResetPlan {
  node: string;
  services: string[];
  paths: string[];
  /** The packages-added record is read on the node: purge removes what it lists. */
  purgePackages: boolean;
  releaseVip?: string;
}

/** What reset does on one node (a master also loses the installer's state directory: master1's, or the depot's signing key there on the others). */
export function planNodeReset(config: ClusterConfig, node: HostSpec, opts: ResetOptions): NodeResetPlan {
  const paths = [...RESET_PATHS];
  if (hasRole(node, "control-plane")) paths.push(config.stateDir);
  if (!opts.purgePackages) paths.push("/var/lib/k8s-ha-offline-node/installed");
  else paths.push("/var/lib/k8s-ha-offline-node");
  return {
    node: node.name,
    services: RESET_SERVICES,
    paths,
    purgePackages: opts.purgePackages,
    releaseVip: hasRole(node, "control-plane") ? config.loadBalancer.vip : undefined,
  };
}

/** The package removal command for the bundle's format: what the record lists, nothing else. */
function purgeCommand(config: ClusterConfig): ShellCommand {
  const deb = findProfile(config.bundle.profile)?.packageManager.format === "deb";
  const remove = deb ? sh`DEBIAN_FRONTEND=noninteractive apt-get purge -y -q` : sh`yum remove -y -q`;
  return sh`if [ -s ${PACKAGES_ADDED} ]; then ${remove} $(cat ${PACKAGES_ADDED}); fi`;
}

/**
 * The node's services, kubeadm's own undo, the VIP and the packages: stopped, disabled, released,
 * removed. Each part tolerates what is already gone, so a re-run (or a node never fully installed) finishes.
 */
export function resetServicesScript(config: ClusterConfig, plan: NodeResetPlan): ShellCommand {
  const units = plan.services.map((s) => (s.includes(".") ? s : `${s}.service`));
  const parts: ShellCommand[] = [
    // The kubelet first, then kubeadm's own undo while the runtime still runs (it removes the
    // containers through it; iptables, IPVS), then every other service.
    sh`systemctl disable --now kubelet.service >/dev/null 2>&1 || true`,
    sh`if command -v kubeadm >/dev/null 2>&1 && [ -d /etc/kubernetes ]; then kubeadm reset -f >/dev/null 2>&1 || true; fi`,
    sh`for u in ${units}; do systemctl disable --now "$u" >/dev/null 2>&1 || true; done`,
    // containerd.service stops with KillMode=process: the shims of the install's containerd outlive it.
    sh`for p in $(pgrep -f '^/usr/local/bin/containerd-shim' 2>/dev/null); do kill "$p" 2>/dev/null || true; done`,
    sh`for m in $(awk '$2 ~ "^(/var/lib/kubelet|/var/lib/containerd|/run/containerd)/" {print $2}' /proc/mounts 2>/dev/null | sort -r); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done`,
  ];
  // With the prefix the interface holds it with (keepalived's choice), which `ip addr del` must match.
  if (plan.releaseVip)
    parts.push(sh`ip -o -4 addr show 2>/dev/null | awk -v a=${plan.releaseVip} '{split($4,p,"/"); if (p[1]==a) print $2, $4}' | while read -r dev cidr; do ip addr del "$cidr" dev "$dev" 2>/dev/null || true; done`);
  // chrony's own config back first: a purge then removes it with a package the install added.
  parts.push(restoreChronyOriginal());
  if (plan.purgePackages) parts.push(purgeCommand(config));
  return shJoin(parts, "\n");
}

/** The node's files: every path of the plan, and the managed block of /etc/hosts (the rest of it kept). */
export function resetFilesScript(plan: NodeResetPlan): ShellCommand {
  // "%" as the sed address delimiter: the markers hold no "%".
  const block = `\\%^${HOSTS_BEGIN}%,\\%^${HOSTS_END}%d`;
  return shJoin([sh`rm -rf ${plan.paths}`, sh`[ ! -f /etc/hosts ] || sed -i ${block} /etc/hosts`], "\n");
}

/** After the files are gone: systemd forgets the removed units, the kernel settings fall back to the OS's. */
export const RESET_AFTER = sh`systemctl daemon-reload >/dev/null 2>&1 || true; systemctl reset-failed >/dev/null 2>&1 || true; systemctl try-restart chrony.service chronyd.service >/dev/null 2>&1 || true; sysctl --system >/dev/null 2>&1 || true`;

/** Nodes a `reset --node NAME` must refuse: an etcd member whose loss breaks quorum, the last control plane, master1. */
export function nodeResetRefusal(config: ClusterConfig, name: string): string | undefined {
  const spec = config.hosts.find((h) => h.name === name);
  if (!spec) return `${name} is not in ${config.source}`;
  if (hasRole(spec, "control-plane") && controlPlanes(config).length <= 1) return `${name} is the last control plane`;
  if (name === firstMaster(config).name) return `${name} is master1, where the installer, its state and the depot live: reset the whole cluster instead`;
  if (hasRole(spec, "etcd")) {
    // Resetting a member does not take it out of etcd's member list: the others run one member short.
    const n = etcdMembers(config).length;
    const quorum = Math.floor(n / 2) + 1;
    if (n - 1 < quorum) return `${name} is one of ${n} etcd members: without it the others (${n - 1}) lose quorum (${quorum} needed)`;
    return `${name} is one of ${n} etcd members (quorum ${quorum}): resetting it would leave its member in etcd's list and the cluster ${n - 1 - quorum === 0 ? "one failure from losing quorum" : "short of a member"}; etcd membership changes are not automated`;
  }
  return undefined;
}

export async function resetNode(host: Host, config: ClusterConfig, plan: NodeResetPlan): Promise<void> {
  const r = await host.exec(shJoin([resetServicesScript(config, plan), resetFilesScript(plan), RESET_AFTER], "\n"), { check: false, timeoutMs: 900_000 });
  if (r.code !== 0) throw new Error(`${plan.node}: reset failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-10).join("\n")}`);
}
