// The validated, defaults-applied cluster configuration every phase works from.
// The YAML schema (field docs, defaults, validation) lives in ./schema.ts; this file is only the shape.

export type Role = "control-plane" | "worker" | "etcd";
export type VrrpMode = "multicast" | "unicast";
export type Runtime = "containerd" | "docker";
export type Cni = "flannel" | "calico";
export type FirewallMode = "disable" | "open-ports";

export interface SshSettings {
  user: string;
  port: number;
  /** Path to a private key; undefined means agent or password. */
  keyFile?: string;
  /** Name of the environment variable holding the SSH password (never the password itself). */
  passwordEnv?: string;
  /** strict: host key must be in knownHostsFile; accept-new: trust on first use and record; off: no check. */
  hostKeyPolicy: "strict" | "accept-new" | "off";
  knownHostsFile: string;
  connectTimeoutSeconds: number;
}

export interface HostSpec {
  name: string;
  address: string;
  roles: Role[];
  ssh: SshSettings;
  /** Extra names written to /etc/hosts next to the hostname (k8s-master1 in the reference guide, ../shared/seed/). */
  aliases: string[];
}

export interface LoadBalancerSpec {
  vip: string;
  /** Prefix length when the file gave the VIP as address/prefix (then the control-plane addresses were checked to be in that subnet). */
  vipPrefix?: number;
  interface: string;
  port: number;
  virtualRouterId: number;
  vrrpMode: VrrpMode;
  /** undefined: generated once and kept in the state dir. */
  authPass?: string;
  nopreempt: boolean;
  /** haproxy stats page: bound to 127.0.0.1 on this port. */
  statsPort: number;
}

export interface KubernetesSpec {
  version: string;
  podSubnet: string;
  serviceSubnet: string;
  dnsDomain: string;
  cni: Cni;
  runtime: Runtime;
  /** Bootstrap token TTL, kubeadm duration syntax; "0" (never) only with allowNonExpiringToken. */
  tokenTTL: string;
  allowNonExpiringToken: boolean;
}

export interface ClusterConfig {
  apiVersion: string;
  kind: "Cluster";
  name: string;
  hosts: HostSpec[];
  loadBalancer: LoadBalancerSpec;
  kubernetes: KubernetesSpec;
  bundle: { dir: string; profile: string };
  depot: { port: number; address?: string };
  ntp: { servers: string[] };
  firewall: FirewallMode;
  /** Where the installer keeps state on master1. */
  stateDir: string;
  /** Path the config was read from (for messages). */
  source: string;
}

export const hasRole = (h: HostSpec, r: Role) => h.roles.includes(r);
export const controlPlanes = (c: ClusterConfig) => c.hosts.filter((h) => hasRole(h, "control-plane"));
export const workers = (c: ClusterConfig) => c.hosts.filter((h) => hasRole(h, "worker"));
export const etcdMembers = (c: ClusterConfig) => c.hosts.filter((h) => hasRole(h, "etcd"));
/** master1: the first control-plane node, where the binary runs and state lives. */
export const firstMaster = (c: ClusterConfig) => controlPlanes(c)[0]!;
