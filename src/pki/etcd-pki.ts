// The PKI of the external etcd cluster, as a plan: which files go where with what content.
// Pure (no I/O): the etcd phase reads what exists (see etcdPkiSources), calls planEtcdPki,
// and writes the files; Host.writeFile leaves equal files alone, so a re-run changes nothing.
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import { controlPlanes, etcdMembers, firstMaster } from "../config/types.ts";
import { createCa, loadCa, type CertAndKey, type SigningCa } from "./ca.ts";
import { issueCert, type LeafSpec } from "./cert.ts";
import { MIN_DAYS_LEFT, needsRenewal, type RenewalVerdict } from "./renewal.ts";

export const ETCD_PKI_DIR = "/etc/etcd/pki";
/** Where kubeadm's ClusterConfiguration.etcd.external points. */
export const KUBEADM_ETCD_CLIENT = {
  caFile: "/etc/kubernetes/pki/etcd/ca.crt",
  certFile: "/etc/kubernetes/pki/apiserver-etcd-client.crt",
  keyFile: "/etc/kubernetes/pki/apiserver-etcd-client.key",
} as const;

/** The etcd CA on master1: its key lives nowhere else. The backup is what to restore from if the first copy is lost. */
export function etcdCaStatePaths(stateDir: string) {
  return {
    cert: `${stateDir}/pki/etcd-ca.crt`,
    key: `${stateDir}/pki/etcd-ca.key`,
    backupCert: `${stateDir}/pki/backup/etcd-ca.crt`,
    backupKey: `${stateDir}/pki/backup/etcd-ca.key`,
  };
}

export interface PlannedFile {
  /** Node name from the config. */
  node: string;
  path: string;
  /** For keys (mode 0o600) a secret: write it, never log or print it. */
  content: string;
  /** 0o600 for keys, 0o644 for certificates. */
  mode: number;
  /** True for files in the installer's state dir on master1 (write them through the local Host). */
  state: boolean;
}

/** One certificate of the etcd PKI, and where its current copy is read from. */
export interface EtcdLeafSource {
  /** "server/master1", "peer/master1", "apiserver-etcd-client", "healthcheck-client". */
  id: string;
  node: string;
  certPath: string;
  keyPath: string;
}

export interface ExistingEtcdPki {
  /** CA from the state dir (fall back to the backup copy when the first is missing). */
  ca?: Partial<CertAndKey>;
  /** By EtcdLeafSource.id; whatever could be read, missing parts left out. */
  leaves?: Record<string, Partial<CertAndKey> | undefined>;
}

export interface PlanOptions {
  now?: Date;
  /** Days of validity for new leaf certificates. Default 365. */
  leafValidityDays?: number;
  /** Renew a leaf when fewer days remain. Default 30. */
  minDaysLeft?: number;
  /** "all" reissues every leaf from the existing CA (renew-certs --etcd); default: only what needs it. */
  renew?: "needed" | "all";
}

export interface EtcdPkiPlan {
  files: PlannedFile[];
  /** Per certificate: kept, or (re)issued and why. For the phase's report; never contains key material. */
  actions: { id: string; action: "kept" | "issued"; why?: string }[];
  caCertPem: string;
  /** True when anything differs from what exists (a new CA or a new leaf). */
  changed: boolean;
}

interface LeafDef extends EtcdLeafSource {
  spec: Omit<LeafSpec, "now" | "validityDays">;
  /** Nodes and directories the pair is copied to. */
  targets: { node: string; certPath: string; keyPath: string }[];
}

const loopback = ["localhost", "127.0.0.1", "::1"];

function leafDefs(config: ClusterConfig): LeafDef[] {
  const members = etcdMembers(config);
  const masters = controlPlanes(config);
  if (members.length === 0) throw new Error(`${config.source}: no host has the role etcd; give the etcd role to 3 hosts (usually the control-plane nodes).`);
  const at = (h: HostSpec, base: string) => ({ node: h.name, certPath: `${base}.crt`, keyPath: `${base}.key` });
  const perMember = (kind: "server" | "peer", extra: string[]) =>
    members.map((m): LeafDef => ({
      id: `${kind}/${m.name}`,
      ...at(m, `${ETCD_PKI_DIR}/${kind}`),
      spec: { commonName: m.name, sans: [m.name, ...m.aliases, m.address, ...extra], usages: ["server", "client"] },
      targets: [at(m, `${ETCD_PKI_DIR}/${kind}`)],
    }));
  const apiserverClient = masters.map((m) => at(m, "/etc/kubernetes/pki/apiserver-etcd-client"));
  const healthcheck = members.map((m) => at(m, `${ETCD_PKI_DIR}/healthcheck-client`));
  const client = (id: string, commonName: string, targets: LeafDef["targets"]): LeafDef[] =>
    targets.length === 0
      ? []
      : [{ id, ...targets[0]!, spec: { commonName, organizations: ["system:masters"], usages: ["client"] }, targets }];
  return [
    // etcd's own gRPC gateway dials the member with the server certificate, so it also needs clientAuth.
    ...perMember("server", loopback),
    ...perMember("peer", []),
    ...client("apiserver-etcd-client", "kube-apiserver-etcd-client", apiserverClient),
    ...client("healthcheck-client", "kube-etcd-healthcheck-client", healthcheck),
  ];
}

/** Where to read each existing certificate/key before planning. */
export const etcdPkiSources = (config: ClusterConfig): EtcdLeafSource[] =>
  leafDefs(config).map(({ id, node, certPath, keyPath }) => ({ id, node, certPath, keyPath }));

/** A CA certificate without its key (or the reverse) cannot be repaired silently: say what to do. */
function checkCaComplete(config: ClusterConfig, existing: ExistingEtcdPki["ca"]): void {
  if (!existing?.certPem === !existing?.keyPem) return;
  const paths = etcdCaStatePaths(config.stateDir);
  const has = existing!.certPem ? paths.cert : paths.key;
  throw new Error(
    `the etcd CA is incomplete: ${has} exists but its partner does not (also not in ${config.stateDir}/pki/backup). ` +
      `Restore the missing file, or move ${has} away to create a new CA (every etcd certificate will then be reissued and etcd restarted).`,
  );
}

async function ensureCa(config: ClusterConfig, existing: ExistingEtcdPki["ca"], now: Date): Promise<{ ca: SigningCa; pair: CertAndKey; created: boolean }> {
  const paths = etcdCaStatePaths(config.stateDir);
  if (existing?.certPem && existing.keyPem) {
    const pair = { certPem: existing.certPem, keyPem: existing.keyPem };
    return { ca: await loadCa(pair, paths.cert), pair, created: false };
  }
  checkCaComplete(config, existing);
  const pair = await createCa({ commonName: "etcd-ca", now });
  return { ca: await loadCa(pair, paths.cert), pair, created: true };
}

function leafVerdict(d: LeafDef, have: Partial<CertAndKey> | undefined, caPem: string, opts: PlanOptions, now: Date): RenewalVerdict {
  if (!have?.keyPem) return { renew: true, why: have?.certPem ? "key missing" : "missing" };
  if (opts.renew === "all" && have.certPem) return { renew: true, why: "renewal requested" };
  return needsRenewal(have.certPem, {
    commonName: d.spec.commonName,
    wantSans: d.spec.sans,
    minDaysLeft: opts.minDaysLeft ?? MIN_DAYS_LEFT,
    caPem,
    keyPem: have.keyPem,
    now,
  });
}

/**
 * What planEtcdPki would do, without generating any key (for a phase's cheap `check`).
 * Throws the same errors as planEtcdPki for an incomplete CA or a config without etcd members.
 */
export function reviewEtcdPki(config: ClusterConfig, existing: ExistingEtcdPki = {}, opts: PlanOptions = {}): EtcdPkiPlan["actions"] {
  const now = opts.now ?? new Date();
  const defs = leafDefs(config);
  checkCaComplete(config, existing.ca);
  const caPem = existing.ca?.certPem;
  if (!caPem) {
    const why = (id: string) => (existing.leaves?.[id]?.certPem ? "not signed by the current CA" : "missing");
    return [{ id: "ca", action: "issued", why: "missing" }, ...defs.map((d) => ({ id: d.id, action: "issued" as const, why: why(d.id) }))];
  }
  return [
    { id: "ca", action: "kept" },
    ...defs.map((d) => {
      const v = leafVerdict(d, existing.leaves?.[d.id], caPem, opts, now);
      return v.renew ? { id: d.id, action: "issued" as const, why: v.why } : { id: d.id, action: "kept" as const };
    }),
  ];
}

export async function planEtcdPki(config: ClusterConfig, existing: ExistingEtcdPki = {}, opts: PlanOptions = {}): Promise<EtcdPkiPlan> {
  const now = opts.now ?? new Date();
  const defs = leafDefs(config);
  const { ca, pair: caPair, created } = await ensureCa(config, existing.ca, now);
  const master1 = firstMaster(config).name;
  const state = etcdCaStatePaths(config.stateDir);
  const files: PlannedFile[] = [
    { node: master1, path: state.cert, content: caPair.certPem, mode: 0o644, state: true },
    { node: master1, path: state.key, content: caPair.keyPem, mode: 0o600, state: true },
    { node: master1, path: state.backupCert, content: caPair.certPem, mode: 0o644, state: true },
    { node: master1, path: state.backupKey, content: caPair.keyPem, mode: 0o600, state: true },
  ];
  const caTargets = new Map<string, string[]>();
  const addCa = (node: string, path: string) => caTargets.set(node, [...(caTargets.get(node) ?? []), path]);
  for (const m of etcdMembers(config)) addCa(m.name, `${ETCD_PKI_DIR}/ca.crt`);
  for (const m of controlPlanes(config)) addCa(m.name, KUBEADM_ETCD_CLIENT.caFile);
  for (const [node, paths] of caTargets) for (const path of paths) files.push({ node, path, content: caPair.certPem, mode: 0o644, state: false });

  const actions: EtcdPkiPlan["actions"] = [{ id: "ca", action: created ? "issued" : "kept", ...(created ? { why: "missing" } : {}) }];
  const leaves = await Promise.all(
    defs.map(async (d) => {
      const have = existing.leaves?.[d.id];
      const verdict = leafVerdict(d, have, caPair.certPem, opts, now);
      if (!verdict.renew) return { d, pair: have as CertAndKey, action: { id: d.id, action: "kept" as const } };
      const pair = await issueCert(ca, { ...d.spec, now, validityDays: opts.leafValidityDays });
      return { d, pair, action: { id: d.id, action: "issued" as const, why: verdict.why } };
    }),
  );
  for (const { d, pair, action } of leaves) {
    actions.push(action);
    for (const t of d.targets) {
      files.push({ node: t.node, path: t.certPath, content: pair.certPem, mode: 0o644, state: false });
      files.push({ node: t.node, path: t.keyPath, content: pair.keyPem, mode: 0o600, state: false });
    }
  }
  return { files, actions, caCertPem: caPair.certPem, changed: actions.some((a) => a.action === "issued") };
}
