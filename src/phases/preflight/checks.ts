// Preflight checks: pure functions from gathered facts to findings, so every rule is unit-testable
// and the phase only does I/O. Names follow kubeadm's style so --ignore-preflight-errors reads the same.
import type { ClusterConfig, HostSpec } from "../../config/types.ts";
import { hasRole, firstMaster } from "../../config/types.ts";
import { portsToBeFree } from "../../config/ports.ts";
import type { NodeFacts } from "./facts.ts";
import { DOCKER_CGROUP_DRIVER } from "../../depot/node-config.ts";
import { findProfile } from "../../profiles/index.ts";
import { isRhelLike, majorVersion } from "../../profiles/os-release.ts";
import { formatIPv4, networkOf, parseCidrLoose, parseIPv4 } from "../../config/net.ts";

export interface Finding {
  host: string;
  check: string;
  level: "ok" | "warn" | "error" | "skipped";
  message: string;
  fix?: string;
}

/** Supported at all (independent of the profile). */
function supportedOs(f: NodeFacts): boolean {
  if (isRhelLike(f)) return [7, 8, 9].includes(majorVersion(f)) || ["openEuler", "kylin"].includes(f.osId);
  if (f.osId === "debian") return majorVersion(f) === 12;
  if (f.osId === "ubuntu") return ["22.04", "24.04"].includes(f.osVersion);
  return false;
}

/** Processes this installer starts; a port they hold on a node it prepared is not a conflict. */
const OWN_PROCESSES = /^(etcd|haproxy|kubelet|kube-apiserver|kube-controller|kube-scheduler|kube-proxy|kube-standin|k8s-ha-offline|containerd|dockerd)/;

export function markerFor(config: ClusterConfig): string {
  return `${config.name}`;
}

const MIN = { "control-plane": { cpus: 2, memMiB: 1700 }, other: { cpus: 1, memMiB: 900 } };
const MIN_ROOT_FREE_MIB = 5 * 1024;
export const MAX_CLOCK_SKEW_S = 2;

export function evaluate(config: ClusterConfig, facts: Map<string, NodeFacts>, vipAnswers: boolean): Finding[] {
  const out: Finding[] = [];
  const add = (host: string, check: string, level: Finding["level"], message: string, fix?: string) => out.push({ host, check, level, message, fix });
  const byName = new Map(config.hosts.map((h) => [h.name, h]));
  const profile = findProfile(config.bundle.profile);

  for (const [name, f] of facts) {
    const h = byName.get(name)!;
    const ours = f.marker === markerFor(config);
    // OS and arch
    if (!supportedOs(f)) add(name, "OS", "error", `${f.osId} ${f.osVersion} is not supported`, "use CentOS/RHEL/Rocky/Alma 7-9, openEuler, Kylin, Debian 12 or Ubuntu 22.04/24.04");
    // Each bundle profile is assembled for one OS: packages of one do not install on another.
    else if (profile && !profile.fits(f))
      add(name, "OS", "error", `${f.osId} ${f.osVersion} does not match bundle profile ${config.bundle.profile}`, "use the bundle built for this OS (bundle.profile)");
    else add(name, "OS", "ok", `${f.osId} ${f.osVersion}`);
    if (!["x86_64", "aarch64"].includes(f.arch)) add(name, "Arch", "error", `architecture ${f.arch} is not supported`, "x86_64 or aarch64 only");
    // Resources
    const min = hasRole(h, "control-plane") ? MIN["control-plane"] : MIN.other;
    if (f.cpus < min.cpus) add(name, "NumCPU", "error", `${f.cpus} CPU(s), a ${h.roles.join("/")} node needs at least ${min.cpus}`, "add CPUs");
    if (f.memMiB < min.memMiB) add(name, "Mem", "error", `${f.memMiB} MiB memory, needs at least ${min.memMiB} MiB`, "add memory");
    if (f.rootFreeMiB < MIN_ROOT_FREE_MIB) add(name, "Disk", "error", `${f.rootFreeMiB} MiB free on /, needs ${MIN_ROOT_FREE_MIB} MiB`, "free space on /");
    // Swap: kubelet refuses to start with swap on (by default).
    if (f.swapActive) add(name, "Swap", "error", "swap is on", "run `swapoff -a` and remove swap from /etc/fstab (the os phase does the fstab part), or ignore with --ignore-preflight-errors=Swap if you know why");
    else add(name, "Swap", "ok", "off");
    // Interface for the VIP
    if (hasRole(h, "control-plane")) {
      const cidrs = f.addrs[config.loadBalancer.interface];
      if (!cidrs) add(name, "Interface", "error", `interface ${config.loadBalancer.interface} does not exist (has: ${Object.keys(f.addrs).join(", ")})`, "set loadBalancer.interface to the interface that carries the node address");
      else if (!cidrs.some((c) => c.split("/")[0] === h.address))
        add(name, "Interface", "error", `interface ${config.loadBalancer.interface} does not carry ${h.address} (it has ${cidrs.join(", ")})`, "fix hosts[].address or loadBalancer.interface");
      else {
        add(name, "Interface", "ok", `${config.loadBalancer.interface} carries ${h.address}`);
        vipOnNetwork(config, name, cidrs.find((c) => c.split("/")[0] === h.address)!, add);
      }
    }
    // Ports
    for (const [port, what] of portsToBeFree(config, h)) {
      const holder = f.listening.get(port);
      if (holder === undefined) continue;
      if (ours && OWN_PROCESSES.test(holder)) continue;
      add(name, `Port-${port}`, "error", `port ${port} (${what}) is in use by ${holder}`, `stop ${holder} on ${name} or move it off port ${port}`);
    }
    // Leftovers of another cluster
    if (f.remnants.length && !ours)
      add(name, "Remnants", "error", `an earlier cluster left ${f.remnants.join(", ")}`, "clean the node (kubeadm reset -f; remove /var/lib/etcd) or use a fresh node");
    cgroupDrivers(config, name, f, add);
    // Clock
    const skew = Math.abs(f.clock - (f.localClockAtReply - f.roundTripS / 2));
    if (skew > MAX_CLOCK_SKEW_S) add(name, "ClockSkew", "error", `clock is ${skew.toFixed(1)} s off master1`, "set the time (date -s) before install; the os phase keeps it in sync with chrony");
  }

  // Cross-node checks
  const dup = (key: (f: NodeFacts) => string[], check: string, what: string, fix: string, when = (_: NodeFacts) => true) => {
    const seen = new Map<string, string>();
    for (const [name, f] of facts) {
      if (!when(f)) continue;
      for (const v of key(f)) {
        if (!v) continue;
        const other = seen.get(v);
        if (other && other !== name) add(name, check, "error", `${what} ${v} is also on ${other}`, fix);
        else seen.set(v, name);
      }
    }
  };
  dup((f) => [f.machineId], "MachineID", "machine-id", "cloned machine? run `rm /etc/machine-id && systemd-machine-id-setup` on one of them");
  dup((f) => Object.entries(f.macs).filter(([i]) => i !== "lo").map(([, m]) => m), "MAC", "MAC address", "give every node its own MAC");
  dup((f) => [f.productUuid], "ProductUUID", "product_uuid", "kubelet needs unique product_uuid; fix the VM's hardware UUID", (f) => f.container === "none");
  for (const [name, f] of facts) {
    const clash = config.hosts.find((o) => o.name === f.hostname && o.name !== name);
    if (clash)
      add(name, "Hostname", "error", `${name} (${byName.get(name)!.address}) calls itself "${f.hostname}", the name of ${clash.address} in the config`, "check the addresses in the config: two nodes seem swapped or cloned");
  }
  if (vipAnswers)
    add(firstMaster(config).name, "VIP", "error", `the VIP ${config.loadBalancer.vip} already answers but no node of this cluster holds it`, "pick a free address for loadBalancer.vip");
  return out;
}

/**
 * The install runs docker (runtime: docker) and the kubelet with the systemd cgroup driver
 * (DOCKER_CGROUP_DRIVER; KubeletConfiguration cgroupDriver: systemd). A docker already on the node
 * with cgroupfs would be switched under its running containers, and a kubelet told cgroupfs
 * (/etc/default/kubelet's KUBELET_EXTRA_ARGS wins over the config file) would refuse to start against a
 * systemd docker ("misconfiguration: kubelet cgroup driver … is different from docker cgroup driver"):
 * both are named here, before anything changes.
 */
function cgroupDrivers(config: ClusterConfig, name: string, f: NodeFacts, add: (host: string, check: string, level: Finding["level"], message: string, fix?: string) => void) {
  const docker = config.kubernetes.runtime === "docker";
  const wrongDocker = docker ? f.dockerCgroup.filter((c) => c.driver !== DOCKER_CGROUP_DRIVER) : [];
  const wrongKubelet = f.kubeletCgroup.filter((c) => c.driver !== DOCKER_CGROUP_DRIVER);
  for (const c of wrongDocker)
    add(name, "CgroupDriver", "error", `docker on ${name} uses the ${c.driver} cgroup driver (${c.source}); the kubelet this install sets up uses ${DOCKER_CGROUP_DRIVER}`,
      `set "exec-opts": ["native.cgroupdriver=${DOCKER_CGROUP_DRIVER}"] in /etc/docker/daemon.json and restart docker (its containers restart), or remove that docker first`);
  for (const c of wrongKubelet)
    add(name, "CgroupDriver", "error", `the kubelet on ${name} would use the ${c.driver} cgroup driver (${c.source}); ${config.kubernetes.runtime} runs with ${DOCKER_CGROUP_DRIVER}`,
      `remove --cgroup-driver=${c.driver} from ${c.source} (or set cgroupDriver: ${DOCKER_CGROUP_DRIVER}), or clean the node with kubeadm reset -f`);
  if (docker && !wrongDocker.length && !wrongKubelet.length) add(name, "CgroupDriver", "ok", `${DOCKER_CGROUP_DRIVER} for docker and the kubelet`);
}

/**
 * keepalived adds the VIP to the interface that carries the node's address: a VIP outside that
 * interface's network is unreachable from the other nodes (and ARP for it goes nowhere). Checked
 * against what the node really has, so a VIP written without its /prefix is checked too.
 */
function vipOnNetwork(config: ClusterConfig, node: string, nodeCidr: string, add: (host: string, check: string, level: Finding["level"], message: string, fix?: string) => void) {
  const own = parseCidrLoose(nodeCidr);
  const vip = parseIPv4(config.loadBalancer.vip);
  if (!own || vip === undefined) return;
  const net = networkOf(own.addr, own.prefix);
  const shown = `${formatIPv4(net)}/${own.prefix}`;
  if (networkOf(vip, own.prefix) !== net)
    add(node, "VIPSubnet", "error", `the VIP ${config.loadBalancer.vip} is not on ${config.loadBalancer.interface}'s network ${shown}`, `pick a free address in ${shown} for loadBalancer.vip (or fix loadBalancer.interface)`);
  else if (config.loadBalancer.vipPrefix !== undefined && config.loadBalancer.vipPrefix !== own.prefix)
    add(node, "VIPSubnet", "warn", `loadBalancer.vip has /${config.loadBalancer.vipPrefix} but ${config.loadBalancer.interface} has /${own.prefix}`, `write loadBalancer.vip as ${config.loadBalancer.vip}/${own.prefix}`);
  else add(node, "VIPSubnet", "ok", `${config.loadBalancer.vip} is on ${shown}`);
}

export function blocking(findings: Finding[], ignore: string[]): Finding[] {
  const all = ignore.map((s) => s.toLowerCase());
  return findings.filter((f) => f.level === "error" && !all.includes("all") && !all.includes(f.check.toLowerCase()));
}

export function findingsTable(findings: Finding[]): string {
  const rows = findings.filter((f) => f.level !== "ok");
  if (!rows.length) return "preflight: every check passed on every node";
  const w = Math.max(4, ...rows.map((r) => r.host.length));
  const c = Math.max(5, ...rows.map((r) => r.check.length));
  return [
    `${"NODE".padEnd(w)}  ${"CHECK".padEnd(c)}  LEVEL  PROBLEM / FIX`,
    ...rows.map((r) => `${r.host.padEnd(w)}  ${r.check.padEnd(c)}  ${r.level.padEnd(5)}  ${r.message}${r.fix ? ` — ${r.fix}` : ""}`),
  ].join("\n");
}
