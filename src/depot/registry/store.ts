// The registry's content, built once at start from the image archives of the bundle:
// where each blob lives (tar file + byte range), every manifest's bytes, and for each repository
// its tags and the digests it may serve (the spec only lets a repository serve what it references).
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { Logger } from "../../util/log.ts";
import { hashMember, ImageArchiveError, memberBytes, parseJson, type Archive } from "./archive.ts";
import { readDockerArchive } from "./docker-archive.ts";
import { isIndexType, isManifestType } from "./media-types.ts";
import { parseImageRef, servedNames } from "./reference.ts";
import { indexTar, type TarMember } from "./tar-index.ts";

export interface BlobLocation {
  file: string;
  offset: number;
  size: number;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface StoredManifest {
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
  /** For an index / manifest list: its entries that are present in the bundle. */
  children: { digest: string; platform?: Platform }[];
}

export interface Repository {
  name: string;
  /** tag → manifest (or index) digest */
  tags: Map<string, string>;
  /** Digests of every manifest and blob this repository may serve. */
  digests: Set<string>;
}

export interface ImageStore {
  blobs: Map<string, BlobLocation>;
  manifests: Map<string, StoredManifest>;
  repositories: Map<string, Repository>;
}

export { ImageArchiveError } from "./archive.ts";

const REF_NAME = "org.opencontainers.image.ref.name";
/** docker save (25+) and containerd exports put the full reference here and only the tag in REF_NAME. */
const CONTAINERD_NAME = "io.containerd.image.name";

interface Descriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** Load every images/*.tar of the bundle. Throws ImageArchiveError naming the file on any corrupt or inconsistent content. */
export async function loadImageStore(imagesDir: string, log: Logger): Promise<ImageStore> {
  const store: ImageStore = { blobs: new Map(), manifests: new Map(), repositories: new Map() };
  let files: string[];
  try {
    files = readdirSync(imagesDir).filter((f) => f.endsWith(".tar")).sort();
  } catch {
    log.warn(`depot: no image directory at ${imagesDir}; the registry serves no images`);
    return store;
  }
  // Hash all archives at once: verification is I/O bound, and the archives are independent.
  const archives = await Promise.all(files.map((f) => openArchive(join(imagesDir, f))));
  for (const archive of archives) await addArchive(store, archive, log);
  return store;
}

async function openArchive(file: string): Promise<Archive> {
  let members: Map<string, TarMember>;
  try {
    members = indexTar(file);
  } catch (e) {
    throw new ImageArchiveError(file, (e as Error).message);
  }
  if (!members.has("index.json") && !members.has("manifest.json")) {
    throw new ImageArchiveError(file, "no index.json inside: not an OCI image layout (nor a docker save archive)", "create it with `skopeo copy ... oci-archive:FILE:REF` or the bundle build");
  }
  const archive = { file, members };
  await verifyBlobs(archive);
  return archive;
}

/** Every blobs/sha256/<hex> member must hash to its own name; a mismatch means a corrupt bundle. */
async function verifyBlobs(archive: Archive): Promise<void> {
  for (const m of archive.members.values()) {
    const match = /^blobs\/sha256\/(.+)$/.exec(m.name);
    if (!match) continue;
    if (!/^[a-f0-9]{64}$/.test(match[1]!)) throw new ImageArchiveError(archive.file, `${m.name} is not named by a sha256 digest`);
    const actual = await hashMember(archive, m);
    if (actual !== `sha256:${match[1]}`) throw new ImageArchiveError(archive.file, `blob ${m.name} is corrupt (its sha256 is ${actual.slice(7)})`);
  }
}

async function addArchive(store: ImageStore, archive: Archive, log: Logger): Promise<void> {
  if (!archive.members.has("index.json")) return addDockerArchive(store, archive, log);
  const index = parseJson(archive, await memberBytes(archive, archive.members.get("index.json")!), "index.json");
  const entries: Descriptor[] = Array.isArray(index.manifests) ? index.manifests : [];
  let tagged = 0;
  for (const desc of entries) {
    const refName = desc.annotations?.[REF_NAME];
    const fullName = desc.annotations?.[CONTAINERD_NAME];
    if (!refName && !fullName) continue;
    const ref = (fullName && parseImageRef(fullName)) || (refName && parseImageRef(refName));
    if (!ref) {
      throw new ImageArchiveError(archive.file, `index.json names "${refName ?? fullName}", which is not a full tagged image reference`, "annotate each manifest with the upstream reference, e.g. registry.k8s.io/pause:3.5");
    }
    const reachable = new Set<string>();
    const digest = await addManifest(store, archive, desc, reachable, log);
    for (const name of servedNames(ref)) addTag(store, name, ref.tag, digest, reachable, `${refName ?? fullName} (${basename(archive.file)})`, log);
    tagged++;
  }
  if (tagged === 0) log.warn(`depot: ${archive.file} names no image (no ${REF_NAME} annotation in index.json); nothing served from it`);
}

function addTag(store: ImageStore, name: string, tag: string, digest: string, reachable: Set<string>, source: string, log: Logger): void {
  let repo = store.repositories.get(name);
  if (!repo) store.repositories.set(name, (repo = { name, tags: new Map(), digests: new Set() }));
  const existing = repo.tags.get(tag);
  if (existing && existing !== digest) {
    log.warn(`depot: ${name}:${tag} is already served with ${existing}; ignoring ${source} (${digest})`);
    return;
  }
  repo.tags.set(tag, digest);
  for (const d of reachable) repo.digests.add(d);
}

/** Record a manifest (recursing into an index) and collect every digest it reaches. Returns its digest. */
async function addManifest(store: ImageStore, archive: Archive, desc: Descriptor, reachable: Set<string>, log: Logger): Promise<string> {
  const digest = desc.digest ?? "";
  const member = blobMember(archive, digest);
  if (!member) throw new ImageArchiveError(archive.file, `manifest ${digest || "(no digest)"} named in index.json is not in the archive`);
  reachable.add(digest);
  addBlob(store, archive, digest, member);
  const bytes = await memberBytes(archive, member);
  const body = parseJson(archive, bytes, digest);
  const mediaType: string = body.mediaType ?? desc.mediaType ?? "";
  if (!isManifestType(mediaType)) throw new ImageArchiveError(archive.file, `manifest ${digest} has unsupported media type "${mediaType}"`);
  const children: StoredManifest["children"] = [];
  if (isIndexType(mediaType)) {
    for (const child of (body.manifests ?? []) as Descriptor[]) {
      if (!child.digest || !blobMember(archive, child.digest)) {
        // Bundles may keep only the platforms they need; the other entries simply are not served.
        log.debug(`depot: ${archive.file}: index ${digest} lists ${child.digest} which is not in the archive; skipped`);
        continue;
      }
      await addManifest(store, archive, child, reachable, log);
      children.push({ digest: child.digest, platform: child.platform });
    }
  } else {
    const blobs = [body.config, ...(body.layers ?? [])] as Descriptor[];
    for (const b of blobs) {
      const m = b?.digest ? blobMember(archive, b.digest) : undefined;
      if (!m) throw new ImageArchiveError(archive.file, `manifest ${digest} references blob ${b?.digest} which is not in the archive`);
      addBlob(store, archive, b.digest!, m);
      reachable.add(b.digest!);
    }
  }
  if (!store.manifests.has(digest)) store.manifests.set(digest, { digest, mediaType, bytes, children });
  return digest;
}

async function addDockerArchive(store: ImageStore, archive: Archive, log: Logger): Promise<void> {
  for (const image of await readDockerArchive(archive)) {
    const { digest, mediaType, bytes } = image.manifest;
    for (const b of image.blobs) addBlob(store, archive, b.digest, b.member);
    if (!store.manifests.has(digest)) store.manifests.set(digest, { digest, mediaType, bytes, children: [] });
    const reachable = new Set([digest, ...image.blobs.map((b) => b.digest)]);
    const refs = image.refs.map((r) => [r, parseImageRef(r)] as const);
    if (refs.length === 0) log.warn(`depot: ${archive.file}: an image has no RepoTags in manifest.json; nothing served for it`);
    for (const [raw, ref] of refs) {
      if (!ref) throw new ImageArchiveError(archive.file, `manifest.json names "${raw}", which is not a tagged image reference`);
      for (const name of servedNames(ref)) addTag(store, name, ref.tag, digest, reachable, `${raw} (${basename(archive.file)})`, log);
    }
  }
}

function blobMember(archive: Archive, digest: string): TarMember | undefined {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  return m ? archive.members.get(`blobs/sha256/${m[1]}`) : undefined;
}

function addBlob(store: ImageStore, archive: Archive, digest: string, m: TarMember): void {
  if (!store.blobs.has(digest)) store.blobs.set(digest, { file: archive.file, offset: m.offset, size: m.size });
}
