// Checks that involve more than one key. They run on the defaults-applied values; a key that already
// failed its own check is undefined here and every rule skips what it cannot judge.
import { PROFILE_NAMES } from "../profiles/index.ts";
import { calicoOfProfile } from "../profiles/calico.ts";
import type { ClusterConfig, HostSpec, SshSettings } from "./types.ts";
import { type Cidr, cidrContains, cidrsOverlap, formatIPv4, isLoopback, isUnusableAddress, maskOf, networkOf, parseCidr, parseCidrLoose, parseIPv4 } from "./net.ts";
import type { YamlPath } from "./yaml-source.ts";
import { APISERVER_PORT, NODE_PORT_RANGE, componentPorts } from "./ports.ts";

type DeepPartial<T> = T extends (infer U)[] ? (DeepPartial<U> | undefined)[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
export type Draft = DeepPartial<ClusterConfig>;
type DraftHost = DeepPartial<HostSpec>;
export type Report = (path: YamlPath, message: string, hint: string) => void;

const hostList = (d: Draft) => (d.hosts ?? []).map((h, i) => ({ h, i })).filter((x): x is { h: DraftHost; i: number } => !!x.h);
const label = (h: DraftHost, i: number) => `${h.name ?? "host"} (hosts[${i}])`;
/** Hosts whose roles are known; role-counting rules only judge when every host's roles are. */
const rolesKnown = (d: Draft) => Array.isArray(d.hosts) && d.hosts.every((h) => Array.isArray(h?.roles));

function everyHostHasARole(d: Draft, report: Report) {
  for (const { h, i } of hostList(d))
    if (Array.isArray(h.roles) && h.roles.length === 0)
      report(["hosts", i, "roles"], `${h.name ?? "this host"} has no role`, "give it roles: [worker], [control-plane] or [etcd] — or remove the host");
}

function controlPlaneAndEtcdCounts(d: Draft, report: Report) {
  if (Array.isArray(d.hosts) && d.hosts.length === 0)
    return report(["hosts"], "the hosts list is empty", "list every node with its name, address and roles; the first control-plane node is master1");
  if (!rolesKnown(d)) return;
  const hosts = hostList(d);
  if (!hosts.some(({ h }) => h.roles!.includes("control-plane"))) {
    report(["hosts"], "no host has the control-plane role", "give roles: [control-plane] to three hosts (the first one is master1, where the installer runs)");
    return;
  }
  // Defaults are applied: when no host named etcd, the control-plane nodes carry it now.
  const members = hosts.filter(({ h }) => h.roles!.includes("etcd")).map(({ h }) => h.name ?? "?");
  if (members.length % 2 === 0)
    report(["hosts"], `${members.length} etcd members (${members.join(", ")}): etcd needs an odd number to keep quorum`, "give the etcd role to 1, 3 or 5 hosts (when no host has it, the control-plane nodes are the members); an even count tolerates no more failures than one less");
}

function uniqueNamesAndAddresses(d: Draft, report: Report) {
  const names = new Map<string, string>();
  const addresses = new Map<string, string>();
  for (const { h, i } of hostList(d)) {
    if (h.address !== undefined) {
      const first = addresses.get(h.address);
      if (first) report(["hosts", i, "address"], `${h.address} is also the address of ${first}`, "every host needs its own address");
      else addresses.set(h.address, label(h, i));
    }
    const own = [h.name, ...(h.aliases ?? [])].map((n, k) => ({ n, path: k === 0 ? ["hosts", i, "name"] : ["hosts", i, "aliases", k - 1] }));
    for (const { n, path } of own) {
      if (n === undefined) continue;
      const first = names.get(n);
      if (first) report(path, `the name "${n}" is already used by ${first}`, "host names and aliases must be unique across the cluster");
      else names.set(n, label(h, i));
    }
  }
}

function hostAddressesUsable(d: Draft, report: Report) {
  for (const { h, i } of hostList(d)) {
    const a = h.address === undefined ? undefined : parseIPv4(h.address);
    const why = a === undefined ? undefined : isUnusableAddress(a);
    if (why) report(["hosts", i, "address"], `${h.address} ${why}`, "give the node's own unicast address on the cluster network");
  }
}

const subnets = (d: Draft) => ({
  pod: d.kubernetes?.podSubnet ? parseCidr(d.kubernetes.podSubnet) : undefined,
  service: d.kubernetes?.serviceSubnet ? parseCidr(d.kubernetes.serviceSubnet) : undefined,
});

function vipPlacement(d: Draft, report: Report) {
  const vipText = d.loadBalancer?.vip;
  if (vipText === undefined) return;
  const withPrefix = parseCidrLoose(vipText);
  const vip = withPrefix?.addr ?? parseIPv4(vipText);
  if (vip === undefined) return;
  const at = ["loadBalancer", "vip"];
  const shown = formatIPv4(vip);
  const why = isUnusableAddress(vip) ?? (isLoopback(vip) ? "is a loopback address" : undefined);
  if (why) return report(at, `${shown} ${why}`, "pick a free address on the control-plane nodes' network");
  for (const { h, i } of hostList(d))
    if (h.address === shown) report(at, `the VIP ${shown} is the address of ${label(h, i)}`, "the VIP must be a free address that no node has; it moves between the control-plane nodes");
  const { pod, service } = subnets(d);
  for (const [name, c] of [["podSubnet", pod], ["serviceSubnet", service]] as const)
    if (c && cidrContains(c, vip)) report(at, `the VIP ${shown} is inside kubernetes.${name} ${c.text}`, "pick the VIP from the node network, outside the pod and service ranges");
  if (!withPrefix) return;
  const { prefix } = withPrefix;
  const net = networkOf(vip, prefix);
  const broadcast = (net | ~maskOf(prefix)) >>> 0;
  if (vip === net || vip === broadcast)
    report(at, `${shown} is the ${vip === net ? "network" : "broadcast"} address of ${formatIPv4(net)}/${prefix}`, "pick a host address inside the subnet");
  for (const { h, i } of hostList(d)) {
    const a = h.address === undefined ? undefined : parseIPv4(h.address);
    if (a !== undefined && h.roles?.includes("control-plane") && networkOf(a, prefix) !== net)
      report(at, `control-plane ${label(h, i)} at ${h.address} is outside the VIP's subnet ${formatIPv4(net)}/${prefix}`, "keepalived can only move the VIP between nodes on one subnet: fix the prefix or the VIP");
  }
}

function subnetLayout(d: Draft, report: Report) {
  const { pod, service } = subnets(d);
  if (pod && service && cidrsOverlap(pod, service))
    report(["kubernetes", "serviceSubnet"], `${service.text} overlaps podSubnet ${pod.text}`, "pods and services need separate ranges, e.g. podSubnet 10.244.0.0/16 and serviceSubnet 10.96.0.0/12");
  if (service && service.prefix < 12) report(["kubernetes", "serviceSubnet"], `${service.text} is larger than a /12`, "kube-apiserver refuses service ranges larger than /12 (e.g. 10.96.0.0/12)");
  if (service && service.prefix > 28) report(["kubernetes", "serviceSubnet"], `${service.text} is too small`, "use at least a /28 (cluster DNS takes the 10th address)");
  const hostCount = hostList(d).length;
  if (pod && (pod.prefix > 24 || 2 ** (24 - pod.prefix) < hostCount))
    report(["kubernetes", "podSubnet"], `${pod.text} has room for fewer /24 node ranges than the ${hostCount} hosts`, "each node gets a /24 out of podSubnet: use a /16 such as 10.244.0.0/16");
  for (const { h, i } of hostList(d)) {
    const a = h.address === undefined ? undefined : parseIPv4(h.address);
    if (a === undefined) continue;
    for (const [name, c] of [["podSubnet", pod], ["serviceSubnet", service]] as [string, Cidr | undefined][])
      if (c && cidrContains(c, a)) report(["hosts", i, "address"], `${h.address} is inside kubernetes.${name} ${c.text}`, `move kubernetes.${name} to a range that does not contain the node network`);
  }
}

const minorOf = (version: string | undefined) => (version ? Number(version.split(".")[1]) : undefined);

function versionFits(d: Draft, report: Report) {
  const k = d.kubernetes;
  const minor = minorOf(k?.version);
  if (minor === undefined) return;
  if (k?.runtime === "docker" && minor >= 24)
    report(["kubernetes", "runtime"], `docker cannot run Kubernetes ${k.version}: dockershim was removed in 1.24`, "use runtime: containerd (docker would need cri-dockerd, which the bundle does not carry)");
  const profileMinor = /k8s1\.(\d+)$/.exec(d.bundle?.profile ?? "")?.[1];
  if (profileMinor && Number(profileMinor) !== minor)
    report(["kubernetes", "version"], `bundle profile ${d.bundle!.profile} carries Kubernetes 1.${profileMinor}, not ${k!.version}`, `use a 1.${profileMinor}.x version, or a bundle built for ${k!.version} (profiles: ${PROFILE_NAMES.join(", ")})`);
}

const isZeroDuration = (ttl: string) => ttl.replace(/[a-zµ]+/gi, " ").trim().split(/\s+/).every((n) => Number(n) === 0);

function tokenExpires(d: Draft, report: Report) {
  const ttl = d.kubernetes?.tokenTTL;
  if (ttl !== undefined && isZeroDuration(ttl) && d.kubernetes?.allowNonExpiringToken !== true)
    report(["kubernetes", "tokenTTL"], `tokenTTL "${ttl}" makes a join token that never expires`, 'use a lifetime like "24h"; if you really want a permanent token, also set kubernetes.allowNonExpiringToken: true');
}

/**
 * calico is accepted when the bundle built for bundle.profile carries its manifest's images for this
 * Kubernetes version (src/profiles/calico.ts); otherwise refused before anything changes, as before.
 */
function cniShipped(d: Draft, report: Report) {
  if (d.kubernetes?.cni !== "calico" || !d.bundle?.profile) return;
  const shipped = calicoOfProfile(d.bundle.profile, d.kubernetes.version ?? "");
  if ("missing" in shipped)
    report(["kubernetes", "cni"], `calico is not shipped in the ${d.bundle.profile} bundle: ${shipped.missing}`, "use cni: flannel (the CNI of the reference deployment this installer follows), or a bundle that carries calico; nothing was changed on any node");
}

function portsAreFree(d: Draft, report: Report) {
  const lb = d.loadBalancer;
  // The ports the cluster's own components listen on, on the nodes that run haproxy and the depot.
  const taken: { port: number; what: string }[] = componentPorts(d.kubernetes?.cni);
  for (const { h } of hostList(d))
    if (h.roles?.includes("control-plane") && h.ssh?.port !== undefined) taken.push({ port: h.ssh.port, what: `SSH on ${h.name}` });
  const ours: { path: YamlPath; port: number | undefined; what: string }[] = [
    { path: ["loadBalancer", "port"], port: lb?.port, what: "the API load balancer (haproxy)" },
    { path: ["loadBalancer", "statsPort"], port: lb?.statsPort, what: "the haproxy stats page" },
    { path: ["depot", "port"], port: d.depot?.port, what: "the depots on the masters" },
  ];
  ours.forEach(({ path, port, what }, k) => {
    if (port === undefined) return;
    const hint = k === 0 && port === APISERVER_PORT ? `haproxy needs its own port, usually 9443, because the kube-apiservers listen on ${APISERVER_PORT} on the same nodes` : "pick a port nothing else on the control-plane nodes uses";
    const clash = taken.find((t) => t.port === port) ?? ours.slice(0, k).find((o) => o.port === port);
    if (clash) report(path, `port ${port} is already used by ${clash.what}`, hint);
    else if (port >= NODE_PORT_RANGE.min && port <= NODE_PORT_RANGE.max)
      report(path, `port ${port} is in the Kubernetes NodePort range ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}`, "pick a port outside it; services of type NodePort take these on every node");
  });
}

/**
 * hostKeyPolicy off with a password: whoever answers at a node's address (ARP spoofing, a taken
 * address) receives the password. Judged before the per-host SSH settings are merged over the
 * defaults, so the issue points at the hostKeyPolicy line that says off. Skipped only with
 * --insecure-skip-host-key-check on the command line.
 */
export function hostKeyCheckedWithPassword(d: Draft & { ssh?: DeepPartial<SshSettings> }, report: Report): void {
  const reported = new Set<string>();
  for (const { h, i } of hostList(d)) {
    const own = h.ssh;
    const policy = own?.hostKeyPolicy ?? d.ssh?.hostKeyPolicy;
    const passwordEnv = own?.passwordEnv ?? d.ssh?.passwordEnv;
    if (policy !== "off" || passwordEnv === undefined) continue;
    const path = own?.hostKeyPolicy !== undefined ? ["hosts", i, "ssh", "hostKeyPolicy"] : ["ssh", "hostKeyPolicy"];
    if (reported.has(path.join("."))) continue;
    reported.add(path.join("."));
    report(
      path,
      `hostKeyPolicy off with password login (passwordEnv ${passwordEnv}${own?.hostKeyPolicy !== undefined ? "" : `, e.g. for ${h.name ?? `hosts[${i}]`}`}) sends the SSH password to whoever answers at the node's address`,
      "use strict with the keys checked out of band (docs/ssh-host-keys.md) or accept-new; only on a network you trust, run with --insecure-skip-host-key-check",
    );
  }
}

export const RULES: readonly ((d: Draft, report: Report) => void)[] = [
  everyHostHasARole,
  controlPlaneAndEtcdCounts,
  uniqueNamesAndAddresses,
  hostAddressesUsable,
  vipPlacement,
  subnetLayout,
  versionFits,
  tokenExpires,
  cniShipped,
  portsAreFree,
];
