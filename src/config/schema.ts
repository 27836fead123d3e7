// THE cluster.yaml schema (apiVersion k8s-ha-offline.io/v1alpha1): one row per key. The loader validates
// against it and applies its defaults; the README's config reference is generated from it.
// Checks that involve more than one key (overlaps, duplicates, port collisions...) live in ./rules.ts.
import type { FormatName } from "./formats.ts";
import { PROFILE_NAMES } from "../profiles/index.ts";
import { APISERVER_PORT } from "./ports.ts";

export const API_VERSION = "k8s-ha-offline.io/v1alpha1";

export type FieldType =
  /** A mapping of the keys listed under it. */
  | "section"
  /** A list of mappings of the keys listed under `path[]`. */
  | "sectionList"
  | "string"
  | "integer"
  | "boolean"
  /** A string out of `values`. */
  | "enum"
  /** A list of strings (checked by `format` or `values`). */
  | "list";

export interface Field {
  /** YAML path; `[]` marks "every item of the list". */
  path: string;
  type: FieldType;
  doc: string;
  required?: boolean;
  /** Applied when the key is absent (or empty). */
  default?: string | number | boolean | readonly string[];
  /** A default computed from other keys; the text is what the reference shows. */
  derivedDefault?: string;
  format?: FormatName;
  values?: readonly string[];
  min?: number;
  max?: number;
  /** Longest accepted string (default 253) or most list items. */
  maxLength?: number;
  /** List items must be different. */
  unique?: boolean;
  /** A section that accepts any key of that other section, each optional (per-host overrides). */
  overrides?: string;
}

const port = (path: string, dflt: number, doc: string): Field => ({ path, type: "integer", min: 1, max: 65535, default: dflt, doc });

export const SCHEMA: readonly Field[] = [
  { path: "apiVersion", type: "enum", values: [API_VERSION], required: true, doc: "Format version of this file." },
  { path: "kind", type: "enum", values: ["Cluster"], required: true, doc: "Always Cluster." },
  { path: "name", type: "string", format: "dnsLabel", required: true, doc: "Cluster name (kubeadm clusterName)." },

  { path: "ssh", type: "section", doc: "SSH defaults for every host; each key may be overridden per host under hosts[].ssh." },
  { path: "ssh.user", type: "string", format: "userName", default: "root", doc: "Login user; must be root or have password-less sudo." },
  port("ssh.port", 22, "Port sshd listens on, on the nodes."),
  { path: "ssh.keyFile", type: "string", format: "path", maxLength: 4096, doc: "Private key on master1 (relative to this file, or ~/...); without it the SSH agent or a password is used." },
  { path: "ssh.passwordEnv", type: "string", format: "envName", doc: "Name of the environment variable holding the SSH password (prompted on a terminal when unset). Passwords are never written in this file." },
  { path: "ssh.hostKeyPolicy", type: "enum", values: ["strict", "accept-new", "off"], default: "accept-new", doc: "strict: host key must already be in knownHostsFile (recommended: docs/ssh-host-keys.md); accept-new: trust on first use, record it and print its fingerprint; off: no check (refused with passwordEnv unless --insecure-skip-host-key-check)." },
  { path: "ssh.knownHostsFile", type: "string", format: "absPath", maxLength: 4096, derivedDefault: "<stateDir>/known_hosts", doc: "known_hosts file the host keys are checked against and recorded in." },
  { path: "ssh.connectTimeoutSeconds", type: "integer", min: 1, max: 600, default: 10, doc: "Give up connecting to a node after this many seconds." },

  { path: "hosts", type: "sectionList", required: true, maxLength: 1000, doc: "Every node of the cluster; the first control-plane node is master1, where the installer runs." },
  { path: "hosts[].name", type: "string", format: "dnsLabel", required: true, doc: "Hostname set on the node and Kubernetes node name." },
  { path: "hosts[].address", type: "string", format: "ipv4", required: true, doc: "Node address: SSH target and the address the cluster traffic uses." },
  { path: "hosts[].roles", type: "list", values: ["control-plane", "worker", "etcd"], unique: true, maxLength: 10, required: true, doc: "control-plane, worker and/or etcd; when no host has etcd, the control-plane nodes are the etcd members." },
  { path: "hosts[].aliases", type: "list", format: "dnsName", unique: true, maxLength: 16, default: [], doc: "Extra names for the node in /etc/hosts." },
  { path: "hosts[].ssh", type: "section", overrides: "ssh", doc: "Per-host SSH settings: any key of ssh, overriding it for this host." },

  { path: "loadBalancer", type: "section", required: true, doc: "haproxy + keepalived in front of the kube-apiservers, on every control-plane node." },
  { path: "loadBalancer.vip", type: "string", format: "vip", required: true, doc: "Virtual IP held by keepalived; controlPlaneEndpoint is vip:port. With /prefix, the control-plane addresses are checked to be in that subnet." },
  { path: "loadBalancer.interface", type: "string", format: "ifName", required: true, doc: "Interface the VIP is added to (the one carrying the node addresses)." },
  port("loadBalancer.port", 9443, `Port haproxy listens on for the API (not ${APISERVER_PORT}: the kube-apiservers use that on the same nodes).`),
  { path: "loadBalancer.virtualRouterId", type: "integer", min: 1, max: 255, default: 51, doc: "VRRP virtual_router_id; must be unique among VRRP routers on the network segment." },
  { path: "loadBalancer.vrrpMode", type: "enum", values: ["multicast", "unicast"], default: "multicast", doc: "multicast, or unicast to the other control-plane nodes (for networks that drop multicast)." },
  { path: "loadBalancer.authPass", type: "string", format: "vrrpPass", maxLength: 8, derivedDefault: "generated, kept in stateDir", doc: "VRRP password: 6-8 letters and digits (keepalived cuts a password at # or !); leave it out to have a random one generated." },
  { path: "loadBalancer.nopreempt", type: "boolean", default: false, doc: "true: a recovered node does not take the VIP back." },
  port("loadBalancer.statsPort", 9188, "haproxy stats page port, bound to 127.0.0.1 only."),

  { path: "kubernetes", type: "section", required: true, doc: "What kubeadm sets up." },
  { path: "kubernetes.version", type: "string", format: "k8sVersion", required: true, doc: "Kubernetes release; must match the bundle." },
  { path: "kubernetes.runtime", type: "enum", values: ["containerd", "docker"], default: "containerd", doc: "Container runtime (docker only up to Kubernetes 1.23: dockershim was removed in 1.24)." },
  { path: "kubernetes.cni", type: "enum", values: ["flannel", "calico"], default: "flannel", doc: "Pod network add-on. calico is accepted when the bundle of bundle.profile carries its images for this Kubernetes version (debian12: calico v3.24, tested with 1.22-1.25), refused when the config is read otherwise." },
  { path: "kubernetes.podSubnet", type: "string", format: "cidr", default: "10.244.0.0/16", doc: "Pod network; each node gets a /24 out of it. Must not overlap the service subnet or the node network." },
  { path: "kubernetes.serviceSubnet", type: "string", format: "cidr", default: "10.96.0.0/12", doc: "Service ClusterIP range (/12 to /28)." },
  { path: "kubernetes.dnsDomain", type: "string", format: "dnsName", default: "cluster.local", doc: "Cluster DNS domain." },
  { path: "kubernetes.tokenTTL", type: "string", format: "duration", default: "24h", doc: 'Lifetime of the bootstrap token used to join nodes; "0" (never expires) needs allowNonExpiringToken.' },
  { path: "kubernetes.allowNonExpiringToken", type: "boolean", default: false, doc: 'Permit tokenTTL "0". A token that never expires lets anyone who finds it join a node.' },

  { path: "bundle", type: "section", required: true, doc: "The offline payload copied next to the binary." },
  { path: "bundle.profile", type: "enum", values: PROFILE_NAMES, required: true, doc: "Operating system / Kubernetes flavour the bundle was built for." },
  { path: "bundle.dir", type: "string", format: "path", maxLength: 4096, derivedDefault: "./bundle-<profile>", doc: "Bundle directory, relative to this file." },

  { path: "depot", type: "section", doc: "Package repository and image registry the installer serves from master1." },
  port("depot.port", 5000, "Port of the depot on master1."),
  { path: "depot.address", type: "string", format: "ipv4", derivedDefault: "master1's address", doc: "Address the depot is served on; the nodes fetch from it." },

  { path: "ntp", type: "section", doc: "Time synchronisation (chrony)." },
  { path: "ntp.servers", type: "list", format: "hostOrIp", unique: true, maxLength: 16, default: [], doc: "Upstream NTP servers; empty: the masters serve time to the others (orphan mode, any of them may die)." },

  { path: "firewall", type: "enum", values: ["disable", "open-ports"], default: "disable", doc: "disable the node firewall, or open-ports: keep it and open what the cluster needs." },
  { path: "stateDir", type: "string", format: "stateDir", maxLength: 4096, default: "/var/lib/k8s-ha-offline", doc: "Installer state on master1 (phase records, generated secrets, known_hosts)." },
];

const byPath = new Map(SCHEMA.map((f) => [f.path, f]));

export function fieldAt(path: string): Field | undefined {
  return byPath.get(path);
}

/** Keys allowed directly under a section (`""` is the top level), following `overrides`. */
export function childrenOf(sectionPath: string): Field[] {
  const section = byPath.get(sectionPath);
  const source = section?.overrides ?? sectionPath;
  const prefix = source === "" ? "" : section?.type === "sectionList" ? `${source}[].` : `${source}.`;
  return SCHEMA.filter((f) => f.path.startsWith(prefix) && !f.path.slice(prefix.length).includes(".") && !f.path.slice(prefix.length).includes("["));
}
