// Every port the cluster uses, in one table: the firewall phase opens, preflight checks free and the
// config refuses for haproxy and the depot what this table says. It sits in config/ (not cluster/)
// because the config rules read it too, and config/ is below cluster/.
import type { ClusterConfig, HostSpec, Cni, Role } from "./types.ts";
import { firstMaster, hasRole } from "./types.ts";

export const APISERVER_PORT = 6443;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const KUBELET_PORT = 10250;
export const KUBELET_HEALTHZ_PORT = 10248;
export const KUBE_PROXY_METRICS_PORT = 10249;
export const KUBE_PROXY_HEALTHZ_PORT = 10256;
export const CONTROLLER_MANAGER_PORT = 10257;
export const SCHEDULER_PORT = 10259;
export const FLANNEL_VXLAN_PORT = 8472;
export const CALICO_BGP_PORT = 179;
export const CALICO_TYPHA_PORT = 5473;
export const CALICO_FELIX_PORT = 9099;
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

export interface PortUse {
  port: number;
  /** Last port of a range (the NodePorts). */
  to?: number;
  protocol: "tcp" | "udp";
  what: string;
  /** Which nodes listen on it: those of a role, every node, or master1 only. */
  on: Role | "every" | "master1";
  /** Opened between the nodes when firewall: open-ports (on every node, whichever CNI is configured). */
  firewall: boolean;
  /** Preflight refuses a node where another program holds it (kubeadm's own Port-* checks are the same ones). */
  mustBeFree: boolean;
  /** Only this CNI listens on it. */
  cni?: Cni;
  /** Set by the config (haproxy, the depot) rather than fixed by the component. */
  configured?: true;
}

type Configured = Pick<ClusterConfig, "loadBalancer" | "depot">;

/**
 * The table. Without a config it holds the components' fixed ports only; with one, also haproxy's
 * and the depot's ports as configured. Order is the order preflight reports them in.
 */
export function portTable(config?: Configured): PortUse[] {
  const fixed = (port: number, protocol: PortUse["protocol"], what: string, on: PortUse["on"], firewall: boolean, mustBeFree: boolean, more: Partial<PortUse> = {}): PortUse =>
    ({ port, protocol, what, on, firewall, mustBeFree, ...more });
  const ours = (port: (c: Configured) => number, what: string, on: PortUse["on"]): PortUse[] =>
    config ? [{ port: port(config), protocol: "tcp", what, on, firewall: true, mustBeFree: true, configured: true }] : [];
  return [
    fixed(KUBELET_PORT, "tcp", "kubelet", "every", true, true),
    fixed(APISERVER_PORT, "tcp", "kube-apiserver", "control-plane", true, true),
    ...ours((c) => c.loadBalancer.port, "haproxy (load balancer)", "control-plane"),
    fixed(CONTROLLER_MANAGER_PORT, "tcp", "kube-controller-manager", "control-plane", true, true),
    fixed(SCHEDULER_PORT, "tcp", "kube-scheduler", "control-plane", true, true),
    fixed(ETCD_CLIENT_PORT, "tcp", "etcd client", "etcd", true, true),
    fixed(ETCD_PEER_PORT, "tcp", "etcd peer", "etcd", true, true),
    ...ours((c) => c.depot.port, "depot", "control-plane"),
    fixed(KUBELET_HEALTHZ_PORT, "tcp", "kubelet (healthz)", "every", false, false),
    fixed(KUBE_PROXY_METRICS_PORT, "tcp", "kube-proxy (metrics)", "every", false, false),
    fixed(KUBE_PROXY_HEALTHZ_PORT, "tcp", "kube-proxy (healthz)", "every", false, false),
    fixed(NODE_PORT_RANGE.min, "tcp", "NodePort services", "every", true, false, { to: NODE_PORT_RANGE.max }),
    fixed(FLANNEL_VXLAN_PORT, "udp", "flannel VXLAN", "every", true, false, { cni: "flannel" }),
    fixed(CALICO_BGP_PORT, "tcp", "calico BGP", "every", true, false, { cni: "calico" }),
    fixed(CALICO_TYPHA_PORT, "tcp", "calico typha", "every", false, false, { cni: "calico" }),
    fixed(CALICO_FELIX_PORT, "tcp", "calico felix", "every", false, false, { cni: "calico" }),
  ];
}

/** Whether this node runs what listens on the port. */
export function listensOn(config: ClusterConfig, node: HostSpec, p: PortUse): boolean {
  if (p.on === "every") return true;
  if (p.on === "master1") return node.name === firstMaster(config).name;
  return hasRole(node, p.on);
}

/** The ports preflight wants free on this node, with what will listen there. */
export function portsToBeFree(config: ClusterConfig, node: HostSpec): Map<number, string> {
  return new Map(portTable(config).filter((p) => p.mustBeFree && listensOn(config, node, p)).map((p) => [p.port, p.what]));
}

/**
 * firewall-cmd's words for the ports to open ("6443/tcp", "2379-2380/tcp"). Neighbouring fixed ports
 * make one range, the form nodes opened by earlier runs list them in.
 */
export function firewallPorts(config: Configured): string[] {
  const open: PortUse[] = [];
  for (const p of portTable(config).filter((q) => q.firewall)) {
    const prev = open.at(-1);
    if (prev && !prev.configured && !p.configured && p.to === undefined && prev.protocol === p.protocol && (prev.to ?? prev.port) + 1 === p.port) open[open.length - 1] = { ...prev, to: p.port };
    else open.push(p);
  }
  return open.map((p) => `${p.to === undefined ? p.port : `${p.port}-${p.to}`}/${p.protocol}`);
}

/** Ports a component listens on, for the config check that haproxy and the depot keep clear of them. */
export function componentPorts(cni: Cni | undefined): { port: number; what: string }[] {
  return portTable().filter((p) => p.protocol === "tcp" && p.to === undefined && (!p.cni || p.cni === cni)).map(({ port, what }) => ({ port, what }));
}
