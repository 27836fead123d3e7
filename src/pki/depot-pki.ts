// The installer's depot PKI, as a plan (pure, like etcd-pki.ts): the depot CA, whose key stays in master1's
// state directory next to the etcd CA, and the depot's serving certificate, issued again when it is within
// 30 days of expiry, lacks a name it must carry (a control-plane node or depot.address was added), or no
// longer fits the CA or its key. What goes in them is the "installer" rows of certlist.ts.
import type { ClusterConfig } from "../config/types.ts";
import { firstMaster } from "../config/types.ts";
import type { CertAndKey } from "./ca.ts";
import { issueCert } from "./cert.ts";
import { caStateFiles, caStatePaths, checkCaComplete, ensureStateCa, type CaStatePaths, type PlannedFile, type StateCa } from "./ca-state.ts";
import { certDef, keyPathOf, type CaDef, type LeafDef } from "./certlist.ts";
import { MIN_DAYS_LEFT, needsRenewal, type RenewalVerdict } from "./renewal.ts";

const DEPOT_CA = certDef("depot-ca") as CaDef & { issue: NonNullable<CaDef["issue"]> };
const DEPOT_SERVER = certDef("depot-server") as LeafDef & { issue: NonNullable<LeafDef["issue"]> };

/** The depot CA on master1: its key lives nowhere else. */
export const depotCaStatePaths = (stateDir: string): CaStatePaths => caStatePaths(stateDir, "depot-ca");

/** The depot's serving certificate and key on the node that serves the depot (the key 0600 root). */
export const DEPOT_SERVING = { cert: DEPOT_SERVER.files[0]!.path, key: keyPathOf(DEPOT_SERVER.files[0]!.path) } as const;

export interface ExistingDepotPki {
  ca?: Partial<CertAndKey>;
  serving?: Partial<CertAndKey>;
  /** A CA creation a killed run began (its pending file is there): the phase finishes it. */
  unfinishedCa?: boolean;
}

export interface DepotPkiPlan {
  /** Every file on master1: the CA in the state directory, the serving pair at DEPOT_SERVING. Keys are secrets. */
  files: PlannedFile[];
  /** "depot-ca" and "depot-server": kept, or issued and why. Never key material. */
  actions: { id: string; action: "kept" | "issued"; why?: string }[];
  caCertPem: string;
  changed: boolean;
}

export interface DepotPlanOptions {
  now?: Date;
  /** Renew the serving certificate when fewer days remain. Default 30. */
  minDaysLeft?: number;
}

export const depotStateCa = (config: ClusterConfig): StateCa => ({
  what: "the depot CA",
  paths: depotCaStatePaths(config.stateDir),
  stateDir: config.stateDir,
  consequence: "the depot's certificate will be reissued and every node given the new CA by the trust phase",
  commonName: DEPOT_CA.issue.commonName,
  validityDays: DEPOT_CA.issue.validityDays,
});

/** The names and addresses the serving certificate carries for this cluster. */
export const depotServingSans = (config: ClusterConfig): string[] => DEPOT_SERVER.issue.sans!(firstMaster(config), config);

function servingVerdict(config: ClusterConfig, have: Partial<CertAndKey> | undefined, caPem: string, opts: DepotPlanOptions): RenewalVerdict {
  if (!have?.certPem) return { renew: true, why: "missing" };
  if (!have.keyPem) return { renew: true, why: "key missing" };
  return needsRenewal(have.certPem, {
    commonName: DEPOT_SERVER.issue.commonName(firstMaster(config)),
    wantSans: depotServingSans(config),
    minDaysLeft: opts.minDaysLeft ?? MIN_DAYS_LEFT,
    caPem,
    keyPem: have.keyPem,
    now: opts.now,
  });
}

/** What planDepotPki would do, without generating a key (for the depot phase's cheap check). */
export function reviewDepotPki(config: ClusterConfig, existing: ExistingDepotPki = {}, opts: DepotPlanOptions = {}): DepotPkiPlan["actions"] {
  checkCaComplete(depotStateCa(config), existing.ca);
  const caPem = existing.ca?.certPem;
  if (!caPem) return [{ id: "depot-ca", action: "issued", why: "missing" }, { id: "depot-server", action: "issued", why: existing.serving?.certPem ? "not signed by the current CA" : "missing" }];
  const v = servingVerdict(config, existing.serving, caPem, opts);
  return [{ id: "depot-ca", action: "kept" }, v.renew ? { id: "depot-server", action: "issued", why: v.why } : { id: "depot-server", action: "kept" }];
}

export async function planDepotPki(config: ClusterConfig, existing: ExistingDepotPki = {}, opts: DepotPlanOptions = {}): Promise<DepotPkiPlan> {
  const now = opts.now ?? new Date();
  const { ca, pair: caPair, created } = await ensureStateCa(depotStateCa(config), existing.ca, now);
  const master1 = firstMaster(config).name;
  const verdict = servingVerdict(config, existing.serving, caPair.certPem, { ...opts, now });
  const serving = verdict.renew
    ? await issueCert(ca, {
        commonName: DEPOT_SERVER.issue.commonName(firstMaster(config)),
        sans: depotServingSans(config),
        usages: DEPOT_SERVER.issue.usages,
        validityDays: DEPOT_SERVER.issue.validityDays,
        now,
      })
    : (existing.serving as CertAndKey);
  const actions: DepotPkiPlan["actions"] = [
    created ? { id: "depot-ca", action: "issued", why: "missing" } : { id: "depot-ca", action: "kept" },
    verdict.renew ? { id: "depot-server", action: "issued", why: verdict.why } : { id: "depot-server", action: "kept" },
  ];
  const files: PlannedFile[] = [
    ...caStateFiles(master1, depotCaStatePaths(config.stateDir), caPair),
    { node: master1, path: DEPOT_SERVING.cert, content: serving.certPem, mode: 0o644, state: false },
    { node: master1, path: DEPOT_SERVING.key, content: serving.keyPem, mode: 0o600, state: false },
  ];
  return { files, actions, caCertPem: caPair.certPem, changed: actions.some((a) => a.action === "issued") };
}
