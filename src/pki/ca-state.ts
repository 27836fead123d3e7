// A CA whose key the installer keeps in master1's state directory (the etcd CA, the depot CA): where its
// files are, how an existing one is loaded, and when one is made. Shared by etcd-pki.ts and depot-pki.ts.
import { createCa, loadCa, type CertAndKey, type SigningCa } from "./ca.ts";

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

export interface CaStatePaths {
  cert: string;
  key: string;
  backupCert: string;
  backupKey: string;
  /** A CA being made, whole in one file until its four files are written (src/cluster/state-ca.ts). */
  pending: string;
}

/** stateDir/pki/<base>.crt|.key and the backup copies to restore from if the first copy is lost. */
export const caStatePaths = (stateDir: string, base: string): CaStatePaths => ({
  cert: `${stateDir}/pki/${base}.crt`,
  key: `${stateDir}/pki/${base}.key`,
  backupCert: `${stateDir}/pki/backup/${base}.crt`,
  backupKey: `${stateDir}/pki/backup/${base}.key`,
  pending: `${stateDir}/pki/${base}.pending`,
});

export interface StateCa {
  /** "the etcd CA", "the depot CA". */
  what: string;
  paths: CaStatePaths;
  stateDir: string;
  /** What a new CA means, for the message about an incomplete one. */
  consequence: string;
  commonName: string;
  validityDays: number;
}

/** A CA certificate without its key (or the reverse) cannot be repaired silently: say what to do. */
export function checkCaComplete(def: StateCa, existing: Partial<CertAndKey> | undefined): void {
  if (!existing?.certPem === !existing?.keyPem) return;
  const has = existing!.certPem ? def.paths.cert : def.paths.key;
  throw new Error(
    `${def.what} is incomplete: ${has} exists but its partner does not (also not in ${def.stateDir}/pki/backup). ` +
      `Restore the missing file, or move ${has} away to create a new CA (${def.consequence}).`,
  );
}

/** The existing CA (kept), or a new one when there is none. */
export async function ensureStateCa(def: StateCa, existing: Partial<CertAndKey> | undefined, now: Date): Promise<{ ca: SigningCa; pair: CertAndKey; created: boolean }> {
  if (existing?.certPem && existing.keyPem) {
    const pair = { certPem: existing.certPem, keyPem: existing.keyPem };
    return { ca: await loadCa(pair, def.paths.cert), pair, created: false };
  }
  checkCaComplete(def, existing);
  const pair = await createCa({ commonName: def.commonName, validityDays: def.validityDays, now });
  return { ca: await loadCa(pair, def.paths.cert), pair, created: true };
}

/** The CA's files in master1's state directory: certificate 0644, key 0600, each with its backup copy. */
export const caStateFiles = (master1: string, paths: CaStatePaths, pair: CertAndKey): PlannedFile[] => [
  { node: master1, path: paths.cert, content: pair.certPem, mode: 0o644, state: true },
  { node: master1, path: paths.key, content: pair.keyPem, mode: 0o600, state: true },
  { node: master1, path: paths.backupCert, content: pair.certPem, mode: 0o644, state: true },
  { node: master1, path: paths.backupKey, content: pair.keyPem, mode: 0o600, state: true },
];
