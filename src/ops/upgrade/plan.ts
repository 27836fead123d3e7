// `upgrade plan`: what moving the cluster to a new bundle changes, on which node, in which order, and
// every reason to refuse before anything changes. Pure: the facts are gathered elsewhere (facts.ts), so
// every refusal is unit-tested against plain values. Exit codes: 2 for what the operator brought (the
// bundle, the binary, the version step), 1 for what the cluster is in (etcd, nodes, certificates).
import type { ClusterConfig, HostSpec } from "../../config/types.ts";
import { controlPlanes, etcdMembers, hasRole, workers } from "../../config/types.ts";
import type { BundleLock, LockFile } from "../../depot/lock.ts";

export interface Semver { major: number; minor: number; patch: number; text: string }

export function parseSemver(v: string): Semver | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
  return m ? { major: +m[1]!, minor: +m[2]!, patch: +m[3]!, text: `v${m[1]}.${m[2]}.${m[3]}` } : null;
}
export const compareSemver = (a: Semver, b: Semver) => a.major - b.major || a.minor - b.minor || a.patch - b.patch;

export interface NodeFact { name: string; ready: boolean; kubelet: string; unschedulable?: boolean }
export interface EtcdFact { member: string; healthy: boolean; why?: string }
export interface CertFact { node: string; certificate: string; residualDays: number }

export interface UpgradeFacts {
  config: ClusterConfig;
  /** The bundle's own lock.json (--bundle DIR). */
  bundleLock: BundleLock;
  bundleDir: string;
  /** The lock embedded in this binary: the new binary must carry the new bundle's lock. */
  embedded: BundleLock | null;
  /** verify.ts's problems of the bundle against that lock, one line each. */
  bundleProblems: string[];
  /** The lock of the bundle the cluster runs now (the depot's copy), when known. */
  currentLock: BundleLock | null;
  /** kubeadm-config's ClusterConfiguration.kubernetesVersion; null when the API did not answer. */
  clusterVersion: string | null;
  clusterError?: string;
  nodes: NodeFact[];
  etcd: EtcdFact[];
  /** Certificates with fewer days left than the window. */
  expiring: CertFact[];
  windowDays: number;
  /** Nodes a stopped run of this same upgrade left part-way (upgrade.json): their readiness is the upgrade's to restore. */
  resuming?: string[];
}

export interface Refusal { code: 1 | 2; what: string; fix: string }

export type NodeStep =
  | "kubeadm" // the new kubeadm (only) from the bundle's Kubernetes tarball
  | "kubeadm-upgrade" // kubeadm upgrade apply vX (first master) / kubeadm upgrade node
  | "drain"
  | "kubelet" // kubelet and kubectl from the tarball, kubelet restarted, Ready at the target version
  | "uncordon";
export const NODE_STEPS: readonly NodeStep[] = ["kubeadm", "kubeadm-upgrade", "drain", "kubelet", "uncordon"];

export interface NodeChange { node: string; roles: string; changes: string[] }

export interface UpgradePlan {
  from: string | null;
  to: string;
  refusals: Refusal[];
  /** Nothing differs: every kubelet and the cluster at the target, and the bundle already the one served. */
  nothingToDo: boolean;
  components: { name: string; from: string; to: string }[];
  nodes: NodeChange[];
  /** The stages in order, for people. */
  order: string[];
  /** Worker batches (names), --max-unavailable at a time. */
  workerBatches: string[][];
}

/** The payload of a role in a lock (etcd, runtime, cni, kubernetes tarballs), by file name. */
const payload = (lock: BundleLock | null, re: RegExp): LockFile[] => (lock?.files ?? []).filter((f) => re.test(f.path));
const PAYLOADS: { name: string; re: RegExp; on: (h: HostSpec) => boolean }[] = [
  { name: "etcd", re: /^files\/etcd-v[^/]+$/, on: (h) => hasRole(h, "etcd") },
  { name: "runtime", re: /^files\/(containerd-[^/]+|runc\.[^/]+|docker-[^/]+)$/, on: (h) => hasRole(h, "control-plane") || hasRole(h, "worker") },
  { name: "cni plugins", re: /^files\/cni-plugins-[^/]+$/, on: (h) => hasRole(h, "control-plane") || hasRole(h, "worker") },
];
const names = (fs: LockFile[]) => fs.map((f) => f.path.replace(/^files\//, "")).sort().join(", ");
const sums = (fs: LockFile[]) => fs.map((f) => f.sha256).sort().join(",");

/** Package files (repo/…) that the new bundle has and the current one has not (by name and hash). */
function changedPackages(cur: BundleLock | null, next: BundleLock): string[] {
  const have = new Set((cur?.files ?? []).filter((f) => f.kind === "deb" || f.kind === "rpm").map((f) => `${f.path} ${f.sha256}`));
  return next.files.filter((f) => (f.kind === "deb" || f.kind === "rpm") && !have.has(`${f.path} ${f.sha256}`)).map((f) => f.path.split("/").pop()!);
}

export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The version rules of kubeadm's skew policy, as refusals (exit 2): one minor at a time, never down. */
export function versionRefusals(from: Semver, to: Semver): Refusal[] {
  if (compareSemver(to, from) < 0)
    return [{ code: 2, what: `the bundle holds Kubernetes ${to.text}, older than the cluster's ${from.text}: a downgrade is not supported (kubeadm refuses it)`, fix: "bring the bundle of the version the cluster runs or a newer one; to go back, restore a backup taken before the upgrade" }];
  if (to.major !== from.major || to.minor > from.minor + 1)
    return [{ code: 2, what: `the bundle holds Kubernetes ${to.text} and the cluster runs ${from.text}: skipping a minor version is not supported (kubeadm upgrades one minor version at a time)`, fix: `upgrade to the newest 1.${from.minor + 1}.x bundle first, then to ${to.text}` }];
  return [];
}

export function planUpgrade(f: UpgradeFacts, maxUnavailable = 1): UpgradePlan {
  const refusals: Refusal[] = [];
  const c = f.config;
  const next = f.bundleLock;
  const to = parseSemver(next.kubernetesVersion);
  const toText = to?.text ?? next.kubernetesVersion;

  // What the operator brought: exit 2.
  if (next.profile !== c.bundle.profile)
    refusals.push({ code: 2, what: `the bundle in ${f.bundleDir} is for profile ${next.profile}, and the cluster (${c.source}) runs profile ${c.bundle.profile}`, fix: `bring the ${c.bundle.profile} bundle of the new version` });
  if (!f.embedded)
    refusals.push({ code: 2, what: "this binary carries no bundle lock, so the new bundle cannot be verified", fix: "run the k8s-ha-offline binary that was built with the new bundle (build.ts bundle writes both)" });
  else if (JSON.stringify(f.embedded.files) !== JSON.stringify(next.files) || JSON.stringify(f.embedded.images) !== JSON.stringify(next.images))
    refusals.push({ code: 2, what: `the bundle in ${f.bundleDir} is not the one this binary was built with (profile ${f.embedded.profile}, Kubernetes ${f.embedded.kubernetesVersion}, assembled ${f.embedded.created})`, fix: "run the binary built together with this bundle, or pass that binary's bundle with --bundle" });
  if (f.bundleProblems.length)
    refusals.push({ code: 2, what: `the bundle in ${f.bundleDir} fails verification against its lock (${f.bundleProblems.length} problem${f.bundleProblems.length === 1 ? "" : "s"}): ${f.bundleProblems.slice(0, 5).join("; ")}${f.bundleProblems.length > 5 ? "; …" : ""}`, fix: "copy the bundle again from the machine that built it (verify-bundle --bundle DIR shows every problem)" });
  if (!to) refusals.push({ code: 2, what: `the bundle's lock names Kubernetes "${next.kubernetesVersion}", not a version`, fix: "re-assemble the bundle" });

  const from = f.clusterVersion ? parseSemver(f.clusterVersion) : null;
  if (!f.clusterVersion)
    refusals.push({ code: 1, what: `the cluster's Kubernetes version could not be read (kubeadm-config): ${f.clusterError ?? "no answer"}`, fix: "check `k8s-ha-offline status`: the API must answer through the VIP" });
  else if (!from) refusals.push({ code: 1, what: `kubeadm-config names Kubernetes "${f.clusterVersion}", not a version`, fix: "check kubectl -n kube-system get cm kubeadm-config" });
  if (from && to) refusals.push(...versionRefusals(from, to));

  // What the cluster is in: exit 1.
  const sick = f.etcd.filter((e) => !e.healthy);
  if (sick.length)
    refusals.push({ code: 1, what: `etcd is not healthy on every member (${f.etcd.length - sick.length}/${f.etcd.length}): ${sick.map((e) => `${e.member}${e.why ? ` (${e.why})` : ""}`).join(", ")}`, fix: "bring every member back (status shows them); an upgrade restarts members one at a time and needs all of them" });
  const notReady = f.nodes.filter((n) => !n.ready && !(f.resuming ?? []).includes(n.name));
  if (notReady.length) refusals.push({ code: 1, what: `node${notReady.length === 1 ? "" : "s"} not Ready: ${notReady.map((n) => n.name).join(", ")}`, fix: "make every node Ready first (kubectl describe node NAME), or remove-node it" });
  const missing = c.hosts.filter((h) => (hasRole(h, "control-plane") || hasRole(h, "worker")) && f.clusterVersion && !f.nodes.some((n) => n.name === h.name));
  if (missing.length) refusals.push({ code: 1, what: `not registered in Kubernetes: ${missing.map((h) => h.name).join(", ")}`, fix: "run install (or add-node) so every node of the config has joined" });
  const newer = to ? f.nodes.filter((n) => { const v = parseSemver(n.kubelet); return v && compareSemver(v, to) > 0; }) : [];
  if (newer.length) refusals.push({ code: 2, what: `kubelet newer than the bundle's ${toText} on ${newer.map((n) => `${n.name} (${n.kubelet})`).join(", ")}`, fix: "a kubelet must never be newer than the apiserver: bring a bundle of that version or newer" });
  if (f.expiring.length)
    refusals.push({ code: 1, what: `certificates expire within the ${f.windowDays}-day upgrade window: ${f.expiring.slice(0, 6).map((x) => `${x.node}:${x.certificate} (${x.residualDays} d)`).join(", ")}${f.expiring.length > 6 ? ", …" : ""}`, fix: "run `k8s-ha-offline renew-certs --yes` first (kubeadm renews only the Kubernetes certificates during the upgrade, never etcd's)" });

  // What changes where.
  const cur = f.currentLock;
  const components: UpgradePlan["components"] = [{ name: "Kubernetes (kubeadm, kubelet, kubectl, control plane)", from: from?.text ?? "?", to: toText }];
  const changedPayloads = PAYLOADS.filter((p) => sums(payload(cur, p.re)) !== sums(payload(next, p.re)));
  for (const p of changedPayloads) components.push({ name: p.name, from: cur ? names(payload(cur, p.re)) || "(none)" : "?", to: names(payload(next, p.re)) });
  const pkgs = changedPackages(cur, next);
  if (pkgs.length) components.push({ name: "packages", from: cur ? `${pkgs.length} differ` : "?", to: pkgs.slice(0, 8).join(", ") + (pkgs.length > 8 ? ", …" : "") });
  const curImages = new Set((cur?.images ?? []).map((i) => `${i.ref}@${i.digest}`));
  const newImages = next.images.filter((i) => !curImages.has(`${i.ref}@${i.digest}`)).map((i) => i.ref);
  if (newImages.length) components.push({ name: "images (pinned by digest)", from: "", to: newImages.join(", ") });

  const kubeletsAt = (h: HostSpec) => f.nodes.find((n) => n.name === h.name)?.kubelet;
  const firstCp = controlPlanes(c)[0];
  const nodes: NodeChange[] = c.hosts.map((h) => {
    const ch: string[] = [];
    if (hasRole(h, "control-plane")) ch.push(`depot serves the new bundle`);
    for (const p of changedPayloads) if (p.on(h)) ch.push(`${p.name}: ${names(payload(next, p.re))}`);
    if (pkgs.length) ch.push(`packages from the new repository`);
    if (hasRole(h, "control-plane") || hasRole(h, "worker")) {
      const at = kubeletsAt(h);
      if (hasRole(h, "control-plane")) ch.push(h === firstCp ? `kubeadm upgrade apply ${toText}` : "kubeadm upgrade node (control plane)");
      else ch.push("kubeadm upgrade node");
      ch.push(`drain, kubelet/kubectl ${at ?? "?"} → ${toText}, restart, uncordon`);
    }
    ch.push("k8s-ha-offline binary replaced");
    return { node: h.name, roles: h.roles.join(","), changes: ch };
  });
  const ws = workers(c).filter((h) => !hasRole(h, "control-plane"));
  const workerBatches = batches(ws.map((h) => h.name), Math.max(1, maxUnavailable));
  const order = [
    `verify the bundle, copy it to every master's depot and serve it (the old copy kept beside it), replace the binary on every node`,
    `pull and pin the new images by digest on every node`,
    ...(changedPayloads.some((p) => p.name === "etcd") ? [`etcd, one member at a time with the cluster healthy between: ${etcdMembers(c).map((h) => h.name).join(" → ")}`] : []),
    `control planes one at a time: ${controlPlanes(c).map((h) => h.name).join(" → ")} (kubeadm → kubeadm upgrade → drain → kubelet/kubectl → restart → uncordon)`,
    ...(workerBatches.length ? [`workers, ${Math.max(1, maxUnavailable)} at a time: ${workerBatches.map((b) => b.join("+")).join(" → ")}`] : []),
    `cluster.yaml: kubernetes.version ${toText.replace(/^v/, "")} and bundle.dir the new bundle`,
  ];
  const allAtTarget = !!to && !!from && compareSemver(from, to) === 0 &&
    c.hosts.filter((h) => hasRole(h, "control-plane") || hasRole(h, "worker")).every((h) => { const v = parseSemver(kubeletsAt(h) ?? ""); return v && compareSemver(v, to) === 0; }) &&
    f.nodes.every((n) => !n.unschedulable);
  const sameBundle = !!cur && JSON.stringify(cur.files) === JSON.stringify(next.files);
  return { from: from?.text ?? null, to: toText, refusals, nothingToDo: allAtTarget && sameBundle && refusals.length === 0, components, nodes, order, workerBatches };
}

export function renderPlan(p: UpgradePlan): string {
  const lines: string[] = [];
  lines.push(`Upgrade ${p.from ?? "?"} → ${p.to}${p.nothingToDo ? ": nothing to do, the cluster already runs this bundle" : ""}`);
  if (p.refusals.length) {
    lines.push("", "Refused (nothing was changed):");
    for (const r of p.refusals) lines.push(`  - ${r.what}`, `    fix: ${r.fix}`);
  }
  if (p.nothingToDo) return lines.join("\n") + "\n";
  lines.push("", "Components:");
  const w = Math.max(...p.components.map((x) => x.name.length));
  for (const x of p.components) lines.push(`  ${x.name.padEnd(w)}  ${x.from ? `${x.from} → ` : ""}${x.to}`);
  lines.push("", "Per node:");
  for (const n of p.nodes) lines.push(`  ${n.node} (${n.roles}): ${n.changes.join("; ")}`);
  lines.push("", "Order:");
  p.order.forEach((o, i) => lines.push(`  ${i + 1}. ${o}`));
  return lines.join("\n") + "\n";
}

/** The exit code of the refusals: 2 when anything the operator brought is wrong, else 1. */
export const refusalCode = (rs: readonly Refusal[]): 0 | 1 | 2 => (rs.some((r) => r.code === 2) ? 2 : rs.length ? 1 : 0);
