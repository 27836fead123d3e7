// The backup archive: one tar (tar-stream) whose first entry is manifest.json — the cluster, its CAs'
// fingerprints, the bundle lock, the etcd snapshot's status and every other entry's sha256 — and,
// with a passphrase, that tar encrypted (backup-crypto.ts). Reading checks everything the manifest
// promises before anyone may use a byte of it.
import { createHash, X509Certificate } from "node:crypto";
import * as tar from "tar-stream";
import { BackupArchiveError, decryptArchive, encryptArchive, isEncrypted } from "./backup-crypto.ts";

export { BackupArchiveError } from "./backup-crypto.ts";

export const MANIFEST = "manifest.json";
export const SNAPSHOT = "etcd/snapshot.db";
export const FORMAT = "k8s-ha-offline-backup/1";

/** `etcdctl snapshot status -w json` of the snapshot, and where it was taken. */
export interface SnapshotStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
  member: string;
}

export interface BackupManifest {
  format: typeof FORMAT;
  cluster: string;
  created: string;
  /** CA name (e.g. "kubernetes", "etcd", "front-proxy") → sha256 fingerprint of its certificate (hex). */
  caFingerprints: Record<string, string>;
  lock?: { id: string; profile: string; kubernetesVersion: string };
  snapshot: SnapshotStatus;
  files: { path: string; sha256: string; size: number; mode: number }[];
}

export interface ArchiveEntry {
  path: string;
  data: Uint8Array;
  mode: number;
}

const sha256 = (d: Uint8Array | string) => createHash("sha256").update(d).digest("hex");

/** sha256 of the DER of a PEM certificate: the same for every copy of the CA, whatever its line endings. */
export function certFingerprint(pem: string): string {
  return sha256(new X509Certificate(pem).raw);
}

/** The archive's paths are relative, without "..": extracting one can never write outside its directory. */
export function safeEntryPath(p: string): boolean {
  return p.length > 0 && !p.startsWith("/") && !p.split("/").some((s) => s === ".." || s === "." || s === "");
}

/** The tar: manifest first (with the entries' hashes filled in), then the entries; encrypted when a passphrase is given. */
export async function packArchive(meta: Omit<BackupManifest, "files" | "format">, entries: readonly ArchiveEntry[], passphrase?: string): Promise<{ bytes: Uint8Array; manifest: BackupManifest }> {
  for (const e of entries) if (!safeEntryPath(e.path) || e.path === MANIFEST) throw new Error(`bad archive path ${e.path}`);
  const manifest: BackupManifest = {
    format: FORMAT,
    ...meta,
    files: entries.map((e) => ({ path: e.path, sha256: sha256(e.data), size: e.data.length, mode: e.mode })),
  };
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (c: unknown) => chunks.push(c as Buffer));
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  const add = (name: string, data: Uint8Array, mode: number) =>
    new Promise<void>((resolve, reject) => pack.entry({ name, mode, mtime: new Date(meta.created) }, Buffer.from(data), (err) => (err ? reject(err) : resolve())));
  await add(MANIFEST, Buffer.from(JSON.stringify(manifest, null, 2) + "\n"), 0o600);
  for (const e of entries) await add(e.path, e.data, e.mode);
  pack.finalize();
  await done;
  const plain = Buffer.concat(chunks);
  return { bytes: passphrase === undefined ? plain : encryptArchive(plain, passphrase), manifest };
}

/** The regular files of a tar, by name, with their modes. */
export async function readTar(data: Uint8Array, where: string): Promise<Map<string, { data: Uint8Array; mode: number }>> {
  const out = new Map<string, { data: Uint8Array; mode: number }>();
  const extract = tar.extract();
  const finished = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const parts: Buffer[] = [];
      stream.on("data", (c: unknown) => parts.push(c as Buffer));
      stream.on("end", () => {
        if (header.type === "file") out.set(header.name, { data: Buffer.concat(parts), mode: (header.mode ?? 0o600) & 0o777 });
        next();
      });
      stream.on("error", reject);
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  extract.end(Buffer.from(data));
  try {
    await finished;
  } catch (e) {
    throw new BackupArchiveError(`${where}: not a readable backup archive (${(e as Error).message}); it is truncated, damaged, or not a k8s-ha-offline backup`);
  }
  return out;
}

export interface OpenedArchive {
  manifest: BackupManifest;
  /** Every entry, each checked against the manifest's sha256. */
  files: Map<string, ArchiveEntry>;
}

/**
 * Decrypts (when encrypted), unpacks and checks an archive: manifest present and of this format,
 * every listed file present with its hash, nothing unlisted, no unsafe path. Throws
 * BackupArchiveError (exit 1) saying what is wrong; a passphrase problem is a UsageError upstream.
 */
export async function openArchive(data: Uint8Array, where: string, passphrase?: string): Promise<OpenedArchive> {
  if (isEncrypted(data)) {
    if (passphrase === undefined) throw new BackupArchiveError(`${where} is encrypted: give its passphrase with --passphrase-env NAME (the variable NAME holds it)`);
    data = decryptArchive(data, passphrase, where);
  } else if (passphrase !== undefined) {
    throw new BackupArchiveError(`${where} is not encrypted, yet a passphrase was given: it is not the archive you think, or it was written without --passphrase-env`);
  }
  const raw = await readTar(data, where);
  const m = raw.get(MANIFEST)?.data;
  if (!m) throw new BackupArchiveError(`${where}: no ${MANIFEST} inside; it is truncated or not a k8s-ha-offline backup`);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(m)) as BackupManifest;
  } catch {
    throw new BackupArchiveError(`${where}: ${MANIFEST} is not valid JSON`);
  }
  if (manifest.format !== FORMAT) throw new BackupArchiveError(`${where}: format "${manifest.format}" is not ${FORMAT}; use the k8s-ha-offline release that wrote it`);
  const problems: string[] = [];
  const files = new Map<string, ArchiveEntry>();
  for (const f of manifest.files ?? []) {
    const d = raw.get(f.path)?.data;
    if (!safeEntryPath(f.path)) problems.push(`${f.path}: unsafe path`);
    else if (!d) problems.push(`${f.path}: missing`);
    else if (sha256(d) !== f.sha256) problems.push(`${f.path}: sha256 differs from the manifest`);
    else files.set(f.path, { path: f.path, data: d, mode: f.mode });
  }
  for (const name of raw.keys()) if (name !== MANIFEST && !manifest.files.some((f) => f.path === name)) problems.push(`${name}: not in the manifest`);
  if (!files.has(SNAPSHOT) && !problems.some((p) => p.startsWith(SNAPSHOT))) problems.push(`${SNAPSHOT}: missing`);
  if (problems.length) throw new BackupArchiveError(`${where} failed its manifest check:\n  ${problems.join("\n  ")}`);
  return { manifest, files };
}
