// The PKI of the external etcd cluster, as a plan: which files go where with what content.
// Pure (no I/O): the etcd phase reads what exists (see etcdPkiSources), calls planEtcdPki,
// and writes the files; Host.writeFile leaves equal files alone, so a re-run changes nothing.
// What the certificates are and where they go is the "etcd-pki" rows of the table in certlist.ts.
import { basename } from "node:path";
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import { etcdMembers, firstMaster } from "../config/types.ts";
import type { CertAndKey } from "./ca.ts";
import { caStateFiles, caStatePaths, checkCaComplete, ensureStateCa, type CaStatePaths, type PlannedFile, type StateCa } from "./ca-state.ts";

export type { PlannedFile } from "./ca-state.ts";
import { issueCert, type LeafSpec } from "./cert.ts";
import { CERTIFICATES, certDef, holders, keyPathOf, type CaDef, type CertDef, type LeafDef } from "./certlist.ts";
import { MIN_DAYS_LEFT, needsRenewal, type RenewalVerdict } from "./renewal.ts";

export { ETCD_PKI_DIR, KUBEADM_ETCD_CLIENT } from "./certlist.ts";

/** The etcd CA on master1: its key lives nowhere else. The backup is what to restore from if the first copy is lost. */
export const etcdCaStatePaths = (stateDir: string): CaStatePaths => caStatePaths(stateDir, "etcd-ca");


/** One certificate of the etcd PKI, and where its current copy is read from. */
export interface EtcdLeafSource {
  /** "server/master1", "peer/master1", "apiserver-etcd-client", "healthcheck-client". */
  id: string;
  node: string;
  certPath: string;
  keyPath: string;
  /** Every node and path holding a copy (the first is the one above): another is read when that node is down. */
  copies: { node: string; certPath: string; keyPath: string }[];
}

export interface ExistingEtcdPki {
  /** CA from the state dir (fall back to the backup copy when the first is missing). */
  ca?: Partial<CertAndKey>;
  /** By EtcdLeafSource.id; whatever could be read, missing parts left out. */
  leaves?: Record<string, Partial<CertAndKey> | undefined>;
  /**
   * Leaf ids that could not be read because every node holding them is down (left out of an add-node
   * or replace-node run): kept as they are, nothing issued or written for them in this run.
   */
  unknown?: string[];
  /** A CA creation a killed run began (its pending file is there): the phase finishes it. */
  unfinishedCa?: boolean;
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

/** One certificate of this cluster's etcd PKI: where it is read from, what goes in it, where its copies go. */
interface PlannedLeaf extends Omit<EtcdLeafSource, "copies"> {
  spec: Omit<LeafSpec, "now" | "validityDays"> & { validityDays: number };
  /** Nodes and directories the pair is copied to. */
  targets: { node: string; certPath: string; keyPath: string }[];
}

const ETCD_CA = certDef("etcd-ca") as CaDef & { issue: NonNullable<CaDef["issue"]> };
type IssuedLeaf = LeafDef & { issue: NonNullable<LeafDef["issue"]> };
const ISSUED_LEAVES = CERTIFICATES.filter((d): d is IssuedLeaf => d.kind !== "ca" && d.issuedBy === "etcd-pki" && d.issue !== undefined);

/** A certificate's id in the plan: its file's base name ("server", "apiserver-etcd-client"), per node "server/master1". */
const baseId = (d: CertDef) => basename(d.files[0]!.path).replace(/\.[^.]+$/, "");

/** The table's etcd-pki leaves for this cluster, in table order: a certificate per holder, or one pair copied to every holder. */
function leafDefs(config: ClusterConfig): PlannedLeaf[] {
  if (etcdMembers(config).length === 0) throw new Error(`${config.source}: no host has the role etcd; give the etcd role to 3 hosts (usually the control-plane nodes).`);
  return ISSUED_LEAVES.flatMap((d): PlannedLeaf[] => {
    const copies = d.files.flatMap((f) => holders(config, f).map((host) => ({ host, target: { node: host.name, certPath: f.path, keyPath: keyPathOf(f.path) } })));
    const { commonName, organizations, sans, usages, validityDays } = d.issue;
    const spec = (node: HostSpec) => ({ commonName: commonName(node), organizations, sans: sans?.(node, config), usages, validityDays });
    if (d.issue.perNode) return copies.map(({ host, target }) => ({ id: `${baseId(d)}/${host.name}`, ...target, spec: spec(host), targets: [target] }));
    if (copies.length === 0) return [];
    return [{ id: baseId(d), ...copies[0]!.target, spec: spec(copies[0]!.host), targets: copies.map((c) => c.target) }];
  });
}

/** Where to read each existing certificate/key before planning. */
export const etcdPkiSources = (config: ClusterConfig): EtcdLeafSource[] =>
  leafDefs(config).map(({ id, node, certPath, keyPath, targets }) => ({ id, node, certPath, keyPath, copies: targets }));

export const etcdStateCa = (config: ClusterConfig): StateCa => ({
  what: "the etcd CA",
  paths: etcdCaStatePaths(config.stateDir),
  stateDir: config.stateDir,
  consequence: "every etcd certificate will then be reissued and etcd restarted",
  commonName: ETCD_CA.issue.commonName,
  validityDays: ETCD_CA.issue.validityDays,
});

function leafVerdict(d: PlannedLeaf, have: Partial<CertAndKey> | undefined, caPem: string, opts: PlanOptions, now: Date): RenewalVerdict {
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
  checkCaComplete(etcdStateCa(config), existing.ca);
  const caPem = existing.ca?.certPem;
  if (!caPem) {
    const why = (id: string) => (existing.leaves?.[id]?.certPem ? "not signed by the current CA" : "missing");
    return [{ id: baseId(ETCD_CA), action: "issued", why: "missing" }, ...defs.map((d) => ({ id: d.id, action: "issued" as const, why: why(d.id) }))];
  }
  return [
    { id: baseId(ETCD_CA), action: "kept" },
    ...defs.map((d) => {
      const v = leafVerdict(d, existing.leaves?.[d.id], caPem, opts, now);
      return v.renew ? { id: d.id, action: "issued" as const, why: v.why } : { id: d.id, action: "kept" as const };
    }),
  ];
}

export async function planEtcdPki(config: ClusterConfig, existing: ExistingEtcdPki = {}, opts: PlanOptions = {}): Promise<EtcdPkiPlan> {
  const now = opts.now ?? new Date();
  const defs = leafDefs(config);
  const { ca, pair: caPair, created } = await ensureStateCa(etcdStateCa(config), existing.ca, now);
  const master1 = firstMaster(config).name;
  const files: PlannedFile[] = caStateFiles(master1, etcdCaStatePaths(config.stateDir), caPair);
  const caTargets = new Map<string, string[]>();
  const addCa = (node: string, path: string) => caTargets.set(node, [...(caTargets.get(node) ?? []), path]);
  for (const f of ETCD_CA.files) for (const h of holders(config, f)) addCa(h.name, f.path);
  for (const [node, paths] of caTargets) for (const path of paths) files.push({ node, path, content: caPair.certPem, mode: 0o644, state: false });

  const actions: EtcdPkiPlan["actions"] = [{ id: baseId(ETCD_CA), action: created ? "issued" : "kept", ...(created ? { why: "missing" } : {}) }];
  const unknown = new Set(existing.unknown ?? []);
  const leaves = await Promise.all(
    defs.filter((d) => !unknown.has(d.id)).map(async (d) => {
      const have = existing.leaves?.[d.id];
      const verdict = leafVerdict(d, have, caPair.certPem, opts, now);
      if (!verdict.renew) return { d, pair: have as CertAndKey, action: { id: d.id, action: "kept" as const } };
      const pair = await issueCert(ca, { ...d.spec, now, validityDays: opts.leafValidityDays ?? d.spec.validityDays });
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
