// Every certificate of the cluster, one row each (kubeadm's cmd/kubeadm/app/phases/certs/certlist.go is the
// model): where it lives, which CA signs it, who issues and who renews it, which nodes hold it, and for the
// ones our etcd PKI issues, what goes in them. Issuance (etcd-pki.ts), check-certs (src/certs/) and
// renew-certs (src/ops/renew-certs.ts) read only this table: adding a certificate is adding a row.
// The rows kubeadm issues carry no subject, SANs or usages here: kubeadm decides those (from kubeadm-config)
// and renews them with `kubeadm certs renew all` (1 year for a leaf, 10 for a CA, as ours).
import { basename, dirname } from "node:path";
import type { ClusterConfig, HostSpec, Role } from "../config/types.ts";
import { CA_VALIDITY_DAYS } from "./ca.ts";
import { LEAF_VALIDITY_DAYS, type Usage } from "./cert.ts";
import { shellScript, type ShellCommand } from "../util/sh.ts";
import { NODE_DEPOT_CA, NODE_ETC_DIR } from "../depot/trust-paths.ts";

/**
 * Who makes the certificate: our etcd PKI (src/pki/etcd-pki.ts), the installer's own depot PKI
 * (src/pki/depot-pki.ts, issued by the depot phase), kubeadm, or the kubelet itself.
 */
export type Issuer = "etcd-pki" | "installer" | "kubeadm" | "kubelet";

/**
 * Who renews it: renew-certs --etcd reissues ours from the etcd CA, renew-certs --kubernetes runs
 * `kubeadm certs renew all` on each master, the kubelet rotates its own, and a CA (10 years) is replaced by hand.
 */
export type Renewer = "renew-certs --etcd" | "renew-certs --kubernetes" | "install (depot phase)" | "kubelet" | "by hand";

/** One file of a certificate, and the nodes that hold it. */
export interface Placement {
  /** The certificate; its key is the .key next to a .crt (a kubeconfig or a .pem carries its own). */
  path: string;
  /** Every node with one of these roles holds it. */
  on: readonly Role[];
}

/** A name check-certs requires in a certificate on a node, with what it is for the message. */
export interface ExpectedName {
  value: string;
  /** For the message, e.g. "the VIP", "this node's address". */
  what: string;
}

interface Row {
  /** Unique; kubeadm's name where kubeadm has the certificate. */
  name: string;
  /** What it is, in words (a CA's is what check-certs calls it when the copies on the nodes differ). */
  longName: string;
  issuedBy: Issuer;
  renewedBy: Renewer;
  /** In this order the etcd PKI plans the copies and check-certs looks for them. */
  files: readonly Placement[];
  /** Names check-certs requires in it on a node (the rest of its SANs are the issuer's business). */
  mustName?: (config: ClusterConfig, node: HostSpec) => ExpectedName[];
}

/** A self-signed CA; a CA with several placements is one CA copied to several places. */
export interface CaDef extends Row {
  kind: "ca";
  /** For a CA we make (its key stays in master1's state directory, see etcdCaStatePaths, depotCaStatePaths). */
  issue?: { commonName: string; validityDays: number };
}

/** What our etcd PKI puts in a leaf certificate it issues. */
export interface LeafIssue {
  /** A certificate per holder is named after its node; a shared one ignores the node. */
  commonName: (node: HostSpec) => string;
  /** Subject O, e.g. system:masters. */
  organizations?: string[];
  /** Host names and addresses mixed; needsRenewal reissues a certificate that lacks one. */
  sans?: (node: HostSpec, config: ClusterConfig) => string[];
  /** Extended key usages (key usage is always digitalSignature + keyEncipherment, see cert.ts). */
  usages: Usage[];
  validityDays: number;
  /** One certificate per holder (etcd's server and peer) or one pair copied to every holder. */
  perNode: boolean;
}

/** A certificate signed by a CA row, in a .crt/.pem file or inside a kubeconfig. */
export interface LeafDef extends Row {
  kind: "leaf" | "kubeconfig";
  /** The CA row that signs it; null for kubelet's serving certificate, signed by a CA kubelet keeps in the same file. */
  ca: string | null;
  issue?: LeafIssue;
}

export type CertDef = CaDef | LeafDef;

const KUBERNETES_NODES: Role[] = ["control-plane", "worker"];
const MASTERS: Role[] = ["control-plane"];
const MEMBERS: Role[] = ["etcd"];
const EVERY_NODE: Role[] = ["control-plane", "worker", "etcd"];

const nodeName = (node: HostSpec): ExpectedName => ({ value: node.name, what: "this node's name" });
const nodeAddress = (node: HostSpec): ExpectedName => ({ value: node.address, what: "this node's address" });
/** Every address the nodes may reach the depot at: each control-plane node (by name and address) and depot.address. */
function depotNames(config: ClusterConfig): ExpectedName[] {
  const masters = config.hosts.filter((h) => h.roles.includes("control-plane"));
  const names = masters.flatMap((m) => [
    { value: m.address, what: `the address of ${m.name}` },
    { value: m.name, what: `the name of ${m.name}` },
  ]);
  if (config.depot.address) names.push({ value: config.depot.address, what: "depot.address" });
  return names.filter((n, i) => names.findIndex((o) => o.value === n.value) === i);
}
const etcdMember = (_: ClusterConfig, node: HostSpec) => [nodeName(node), nodeAddress(node)];
/** etcd's own gRPC gateway dials the member with the server certificate, so it also needs clientAuth. */
const etcdServing = (extraSans: string[]): LeafIssue => ({
  commonName: (m) => m.name,
  sans: (m) => [m.name, ...m.aliases, m.address, ...extraSans],
  usages: ["server", "client"],
  validityDays: LEAF_VALIDITY_DAYS,
  perNode: true,
});
const etcdClient = (commonName: string): LeafIssue => ({
  commonName: () => commonName,
  organizations: ["system:masters"],
  usages: ["client"],
  validityDays: LEAF_VALIDITY_DAYS,
  perNode: false,
});
const kubeconfig = (file: string, longName: string, on: Role[] = MASTERS, renewedBy: Renewer = "renew-certs --kubernetes"): LeafDef => ({
  name: file,
  longName,
  kind: "kubeconfig",
  ca: "ca",
  issuedBy: "kubeadm",
  renewedBy,
  files: [{ path: `/etc/kubernetes/${file}`, on }],
});

export const CERTIFICATES: readonly CertDef[] = [
  // kubeadm's PKI in /etc/kubernetes/pki. Workers hold the cluster CA certificate only.
  { name: "ca", longName: "Kubernetes CA", kind: "ca", issuedBy: "kubeadm", renewedBy: "by hand", files: [{ path: "/etc/kubernetes/pki/ca.crt", on: KUBERNETES_NODES }] },
  {
    name: "apiserver",
    longName: "certificate for serving the Kubernetes API",
    kind: "leaf",
    ca: "ca",
    issuedBy: "kubeadm",
    renewedBy: "renew-certs --kubernetes",
    files: [{ path: "/etc/kubernetes/pki/apiserver.crt", on: MASTERS }],
    // Clients reach it through the VIP and at the master's own address.
    mustName: (config, node) => [{ value: config.loadBalancer.vip, what: "the VIP" }, nodeAddress(node)],
  },
  {
    name: "apiserver-kubelet-client",
    longName: "certificate for the API server to connect to kubelet",
    kind: "leaf",
    ca: "ca",
    issuedBy: "kubeadm",
    renewedBy: "renew-certs --kubernetes",
    files: [{ path: "/etc/kubernetes/pki/apiserver-kubelet-client.crt", on: MASTERS }],
  },
  { name: "front-proxy-ca", longName: "front-proxy CA", kind: "ca", issuedBy: "kubeadm", renewedBy: "by hand", files: [{ path: "/etc/kubernetes/pki/front-proxy-ca.crt", on: MASTERS }] },
  {
    name: "front-proxy-client",
    longName: "certificate for the front proxy client",
    kind: "leaf",
    ca: "front-proxy-ca",
    issuedBy: "kubeadm",
    renewedBy: "renew-certs --kubernetes",
    files: [{ path: "/etc/kubernetes/pki/front-proxy-client.crt", on: MASTERS }],
  },

  // Our etcd PKI: the external etcd cluster's CA, copied to every member and, for kubeadm's
  // ClusterConfiguration.etcd.external, to every master.
  {
    name: "etcd-ca",
    longName: "etcd CA",
    kind: "ca",
    issuedBy: "etcd-pki",
    renewedBy: "by hand",
    files: [
      { path: "/etc/etcd/pki/ca.crt", on: MEMBERS },
      { path: "/etc/kubernetes/pki/etcd/ca.crt", on: MASTERS },
    ],
    issue: { commonName: "etcd-ca", validityDays: CA_VALIDITY_DAYS },
  },
  {
    name: "etcd-server",
    longName: "certificate for serving etcd",
    kind: "leaf",
    ca: "etcd-ca",
    issuedBy: "etcd-pki",
    renewedBy: "renew-certs --etcd",
    files: [{ path: "/etc/etcd/pki/server.crt", on: MEMBERS }],
    issue: etcdServing(["localhost", "127.0.0.1", "::1"]),
    mustName: etcdMember,
  },
  {
    name: "etcd-peer",
    longName: "certificate for etcd members to talk to each other",
    kind: "leaf",
    ca: "etcd-ca",
    issuedBy: "etcd-pki",
    renewedBy: "renew-certs --etcd",
    files: [{ path: "/etc/etcd/pki/peer.crt", on: MEMBERS }],
    issue: etcdServing([]),
    mustName: etcdMember,
  },
  {
    name: "apiserver-etcd-client",
    longName: "certificate the apiserver uses to access etcd",
    kind: "leaf",
    ca: "etcd-ca",
    issuedBy: "etcd-pki",
    renewedBy: "renew-certs --etcd",
    files: [{ path: "/etc/kubernetes/pki/apiserver-etcd-client.crt", on: MASTERS }],
    issue: etcdClient("kube-apiserver-etcd-client"),
  },
  {
    name: "etcd-healthcheck-client",
    longName: "certificate for etcdctl health checks (the installer's and status's)",
    kind: "leaf",
    ca: "etcd-ca",
    issuedBy: "etcd-pki",
    renewedBy: "renew-certs --etcd",
    files: [{ path: "/etc/etcd/pki/healthcheck-client.crt", on: MEMBERS }],
    issue: etcdClient("kube-etcd-healthcheck-client"),
  },

  // The installer's depot PKI: the depot CA (key in master1's state directory only) that every node trusts
  // for the depot, and the depot's one serving certificate, which names every control-plane node so that
  // any master can serve the depot with it.
  {
    name: "depot-ca",
    longName: "depot CA",
    kind: "ca",
    issuedBy: "installer",
    renewedBy: "by hand",
    files: [{ path: NODE_DEPOT_CA, on: EVERY_NODE }],
    issue: { commonName: "k8s-ha-offline-depot-ca", validityDays: CA_VALIDITY_DAYS },
  },
  {
    name: "depot-server",
    longName: "certificate for serving the depot (registry, package repository, files)",
    kind: "leaf",
    ca: "depot-ca",
    issuedBy: "installer",
    renewedBy: "install (depot phase)",
    files: [{ path: `${NODE_ETC_DIR}/pki/depot.crt`, on: MASTERS }],
    issue: {
      commonName: () => "k8s-ha-offline-depot",
      sans: (_, config) => depotNames(config).map((n) => n.value),
      usages: ["server"],
      validityDays: LEAF_VALIDITY_DAYS,
      perNode: false,
    },
    mustName: (config) => depotNames(config),
  },

  // kubeadm's kubeconfigs, each with an embedded client certificate (kubelet.conf points at the kubelet's file instead).
  kubeconfig("admin.conf", "kubeconfig of the cluster administrator"),
  kubeconfig("super-admin.conf", "kubeconfig of the break-glass super administrator (kubeadm writes it on the first master)"),
  kubeconfig("controller-manager.conf", "kubeconfig of the controller manager"),
  kubeconfig("scheduler.conf", "kubeconfig of the scheduler"),
  kubeconfig("kubelet.conf", "kubeconfig of the kubelet", KUBERNETES_NODES, "kubelet"),

  // The kubelet's own: its client certificate (TLS bootstrap, then rotation) and its self-signed serving certificate.
  {
    name: "kubelet-client",
    longName: "the kubelet's client certificate (cert and key in one file)",
    kind: "leaf",
    ca: "ca",
    issuedBy: "kubelet",
    renewedBy: "kubelet",
    files: [{ path: "/var/lib/kubelet/pki/kubelet-client-current.pem", on: KUBERNETES_NODES }],
  },
  {
    name: "kubelet-serving",
    longName: "the kubelet's serving certificate, followed by the CA that signed it",
    kind: "leaf",
    ca: null,
    issuedBy: "kubelet",
    renewedBy: "kubelet",
    files: [{ path: "/var/lib/kubelet/pki/kubelet.crt", on: KUBERNETES_NODES }],
  },
];

// ---- Lookups ----

export function certDef(name: string): CertDef {
  const d = CERTIFICATES.find((c) => c.name === name);
  if (!d) throw new Error(`no certificate ${name} in the table`);
  return d;
}

/** The private key next to a .crt; a .pem or a kubeconfig holds its own. */
export const keyPathOf = (certPath: string) => certPath.replace(/\.crt$/, ".key");

/** The nodes of the config that hold a file, in config order. */
export const holders = (config: ClusterConfig, p: Placement): HostSpec[] => config.hosts.filter((h) => p.on.some((r) => h.roles.includes(r)));

/** The file of a row on nodes with this role (a CA has one copy per kind of node). */
const pathOf = (name: string, role: Role) => certDef(name).files.find((f) => f.on.includes(role))!.path;

// The paths other modules (kubeadm-config, the etcd phase) name.
export const KUBERNETES_CA = pathOf("ca", "control-plane");
export const ETCD_PKI_DIR = dirname(pathOf("etcd-ca", "etcd"));
/** Where kubeadm's ClusterConfiguration.etcd.external points. */
export const KUBEADM_ETCD_CLIENT = {
  caFile: pathOf("etcd-ca", "control-plane"),
  certFile: pathOf("apiserver-etcd-client", "control-plane"),
  keyFile: keyPathOf(pathOf("apiserver-etcd-client", "control-plane")),
} as const;

// ---- What check-certs derives ----

/**
 * The two kinds of nodes check-certs looks at, in the order it reads them: every Kubernetes file on every
 * Kubernetes node (a certificate left where it does not belong still expires), etcd's files on etcd members.
 */
const SIDES: readonly (readonly Role[])[] = [KUBERNETES_NODES, MEMBERS];
const sideOf = (p: Placement) => SIDES.find((roles) => roles.some((r) => p.on.includes(r)))!;

/** kubeadm's convention, kept by ours: a directory with a CA's ca.crt is a PKI directory, and that CA its default signer. */
const PKI_DIRS = new Set(CERTIFICATES.filter((d) => d.kind === "ca").flatMap((d) => d.files.map((f) => f.path)).filter((p) => basename(p) === "ca.crt").map(dirname));

/** Shell globs of the certificate and kubeconfig files a node with these roles can have; a PKI directory is read whole. */
export function certGlobs(roles: readonly Role[]): string[] {
  const globs = SIDES.filter((side) => side.some((r) => roles.includes(r))).flatMap((side) =>
    CERTIFICATES.flatMap((d) => d.files)
      .filter((p) => sideOf(p) === side)
      .map((p) => (p.path.endsWith(".crt") && PKI_DIRS.has(dirname(p.path)) ? `${dirname(p.path)}/*.crt` : p.path)),
  );
  return [...new Set(globs)];
}

/**
 * The CA file that must have signed the certificate at `path`: its CA's copy on the same kind of node;
 * for a file without a fixed signer (a CA that is not self-signed, a file the table does not list), the
 * ca.crt of its PKI directory; undefined where there is no answer (kubelet's serving certificate).
 */
export function expectedCa(path: string): string | undefined {
  for (const d of CERTIFICATES) {
    const p = d.files.find((f) => f.path === path);
    if (p && d.kind !== "ca") return d.ca === null ? undefined : certDef(d.ca).files.find((f) => sideOf(f) === sideOf(p))?.path;
  }
  return PKI_DIRS.has(dirname(path)) ? `${dirname(path)}/ca.crt` : undefined;
}

/** CA files that must be identical on every node that has them; the paths of one group hold the same CA. */
export const sharedCas = (): { name: string; paths: string[] }[] =>
  CERTIFICATES.filter((d) => d.kind === "ca").map((d) => ({ name: d.longName, paths: d.files.map((f) => f.path) }));

/** Names each certificate (by path) must carry on this node. */
export function expectedSans(config: ClusterConfig, node: HostSpec): Record<string, ExpectedName[]> {
  return Object.fromEntries(CERTIFICATES.flatMap((d) => (d.mustName ? d.files.map((f) => [f.path, d.mustName!(config, node)]) : [])));
}

/**
 * Globs from this table (certGlobs, backedUpPaths) as shell words left unquoted, so the shell expands them.
 * They are ours, not config values; one with more than path characters and `*` is refused all the same.
 */
export function globWords(globs: readonly string[]): ShellCommand {
  for (const g of globs) if (!/^[\w./*-]+$/.test(g)) throw new Error(`not a plain path glob: ${g}`);
  return shellScript(globs.join(" "));
}

// ---- What renew-certs derives ----

/** What renew-certs writes: what it renews, and with --etcd the whole etcd PKI plan (the CA's copies too). */
const rewrittenByRenewCerts = (d: CertDef) => d.renewedBy === "renew-certs --etcd" || d.renewedBy === "renew-certs --kubernetes" || d.issuedBy === "etcd-pki";

/** Nodes that hold certificates renew-certs writes (control planes and etcd members), in config order, each once. */
export const certNodes = (config: ClusterConfig): HostSpec[] => {
  const roles = new Set(CERTIFICATES.filter(rewrittenByRenewCerts).flatMap((d) => d.files.flatMap((f) => f.on)));
  return config.hosts.filter((h) => h.roles.some((r) => roles.has(r)));
};

/**
 * What renew-certs copies from each node first (relative to /; shell globs): the whole directory of each
 * certificate it writes (keys and all), the kubeconfigs as a glob, nothing twice.
 */
export function backedUpPaths(): string[] {
  const units = SIDES.flatMap((side) =>
    CERTIFICATES.filter(rewrittenByRenewCerts)
      .flatMap((d) => d.files.filter((f) => sideOf(f) === side))
      .map((f) => (f.path.endsWith(".conf") ? `${dirname(f.path)}/*.conf` : dirname(f.path)).slice(1)),
  );
  const unique = [...new Set(units)];
  return unique.filter((u) => !unique.some((o) => o !== u && !o.includes("*") && u.startsWith(`${o}/`)));
}

/** Whether etcd reads the file (so it is written when the member restarts, not with the control plane). */
export function readByEtcd(path: string): boolean {
  return CERTIFICATES.some((d) => d.files.some((f) => f.on.includes("etcd") && (f.path === path || keyPathOf(f.path) === path)));
}
