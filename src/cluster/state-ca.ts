// A CA whose key the installer keeps in master1's state directory (the etcd CA, the depot CA), as files:
// read with its backup copies, and made so that a run killed at any instant never leaves half of it.
// Its certificate and key are separate files (each with a backup), and a run killed between two writes
// left a certificate without its key, which cannot be told from a key lost later and is refused (the
// interrupt drill hit it: SIGKILL inside depot-pki, every later run refused). So a new CA is first written
// whole to one file (<base>.pending, 0600, one atomic rename), then to its four files, and only then is
// the pending file removed: a run killed anywhere in between finds the pending file and finishes that CA.
import type { Host } from "../hosts/host.ts";
import type { CertAndKey } from "../pki/ca.ts";
import { caStateFiles, ensureStateCa, type CaStatePaths, type StateCa } from "../pki/ca-state.ts";
import { sh } from "../util/sh.ts";
import { textOf } from "../util/text.ts";

/** The CA in the state directory: each file from its first copy, else its backup, else a pending creation. */
export interface StateCaOnDisk {
  /** Undefined when no file of the CA exists at all. */
  ca?: Partial<CertAndKey>;
  /** A creation a killed run began: the pending file is there, the four files may be incomplete. */
  unfinished: boolean;
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----\n?/g;

/** The pending file: the certificate's PEM, then the key's. */
export function parsePendingCa(text: string): CertAndKey | undefined {
  const blocks = [...text.matchAll(PEM_BLOCK)].map((m) => m[0]);
  const certPem = blocks.find((b) => b.startsWith("-----BEGIN CERTIFICATE-----"));
  const keyPem = blocks.find((b) => /^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(b));
  return certPem && keyPem ? { certPem, keyPem } : undefined;
}

export async function readStateCa(local: Host, paths: CaStatePaths): Promise<StateCaOnDisk> {
  // All five at once (one command, src/hosts/coalesce.ts); a copy stands in for its missing first.
  const [cert, backupCert, key, backupKey, pendingText] = await Promise.all(
    [paths.cert, paths.backupCert, paths.key, paths.backupKey, paths.pending].map(async (p) => textOf(await local.readFile(p))),
  );
  const certPem = cert ?? backupCert;
  const keyPem = key ?? backupKey;
  const pending = pendingText === undefined ? undefined : parsePendingCa(pendingText);
  // The pending pair is the CA being made: whatever of it reached the four files is the same text.
  // A pending file that is unreadable, or that disagrees with a complete pair, is not ours to use.
  if (pending && (!certPem || !keyPem) && (!certPem || certPem === pending.certPem) && (!keyPem || keyPem === pending.keyPem))
    return { ca: pending, unfinished: true };
  const ca = certPem || keyPem ? { certPem, keyPem } : undefined;
  return { ca, unfinished: pendingText !== undefined && !!certPem && !!keyPem };
}

/**
 * The CA complete in the state directory: kept when it is, finished from the pending file when a killed
 * run began it, made when there is none (refused when half of one is there: checkCaComplete).
 */
export async function writeStateCa(local: Host, def: StateCa, now: Date): Promise<{ pair: CertAndKey; created: boolean }> {
  const paths = def.paths;
  const onDisk = await readStateCa(local, paths);
  const { pair, created } = await ensureStateCa(def, onDisk.ca, now);
  await local.exec(sh`mkdir -p ${`${def.stateDir}/pki`} ${`${def.stateDir}/pki/backup`} && chmod 700 ${`${def.stateDir}/pki`}`);
  if (created) await local.writeFile(paths.pending, pair.certPem + pair.keyPem, { mode: 0o600 });
  for (const f of caStateFiles("", paths, pair)) await local.writeFile(f.path, f.content, { mode: f.mode });
  await local.exec(sh`rm -f ${paths.pending}`);
  return { pair, created };
}
