// A profile's manifests (rpms/<profile>.yaml, rpms/<profile>.files.yaml, images/<profile>.yaml): their
// shape and the checks that refuse a broken one by file and entry. Bundle assembly reads them from the
// repository (loadManifests); the installer carries every profile's copy (embeddedManifests), so the
// nodes are checked against exact versions (epochs included, which file names drop) without the source
// tree, and `version` can say what each profile holds.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { findProfile, isProfileName, PROFILE_NAMES, type ProfileName } from "./index.ts";
import type { ManifestTexts, OsProfile, PackageFormat } from "./profile.ts";

/** Allowed in place of a sha256 only for profiles that cannot be assembled here; the lock has the real sum. */
export const UNKNOWN_SHA256 = "unknown until assembled";

export interface PackageEntry {
  name: string;
  /** [epoch:]version-release (rpm) or the Debian version. */
  version: string;
  arch: string;
  /** File name inside repo/<profile>/. */
  file: string;
  size?: number;
  sha256: string;
  /** Key of `repos` the package is fetched from. */
  repo: string;
}

export interface PackageManifest {
  profile: ProfileName;
  format: PackageFormat;
  os: string;
  kubernetesVersion: string;
  /** rpm: id → yum baseurl (repodata/repomd.xml below it). deb: id → the apt source it came from, for people. */
  repos: Record<string, string>;
  /** What the install asks for; `packages` is their resolved closure. */
  wanted: string[];
  packages: PackageEntry[];
}

/** How a lab payload is packed out of Debian packages (pinned as name=version). */
export interface PackRecipe {
  debs: string[];
  /** A .tar.gz/.tgz: tar member → path inside the unpacked debs. */
  members?: Record<string, string>;
  /** A bare binary (like runc.amd64): its path inside the unpacked debs. */
  file?: string;
}

export interface FileEntry {
  /** Bundle path is files/<name>. */
  name: string;
  role: "runtime" | "etcd" | "cni" | "kubernetes";
  /** Upstream release download (el* profiles). */
  url?: string;
  sha256?: string;
  size?: number;
  /** Members the upstream tarball must contain (checked at assembly). */
  members?: string[];
  /** Lab profile: packed from Debian packages instead of downloaded. */
  pack?: PackRecipe;
  /** Lab profile: packed from the Kubernetes stand-in (test/kube-standin/dist/kube-standin) when it exists. */
  standin?: string[];
}

export interface FilesManifest {
  profile: ProfileName;
  files: FileEntry[];
}

export interface ImageEntry {
  /** Full upstream reference, registry/repository:tag. */
  ref: string;
  /** Digest of the upstream index or manifest, when known; checked when pulling. */
  digest?: string;
}

export interface ImageManifest {
  profile: ProfileName;
  /** os/arch picked out of multi-arch indexes. */
  platform: string;
  /** pull: from upstream registries; build: small real OCI images made at assembly (lab). */
  source: "pull" | "build";
  images: ImageEntry[];
}

/** One profile's three manifests, parsed and checked. */
export interface ProfileManifests {
  name: ProfileName;
  packages: PackageManifest;
  files: FilesManifest;
  images: ImageManifest;
}

/** The repository root (rpms/ and images/ live there). */
export const REPO_ROOT = join(import.meta.dir, "..", "..");

/** Where each manifest of a profile lives, relative to the repository root. */
export const manifestPaths = (name: string): ManifestTexts => ({
  packages: join("rpms", `${name}.yaml`),
  files: join("rpms", `${name}.files.yaml`),
  images: join("images", `${name}.yaml`),
});

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

// Bun's native YAML parser: `version` and every command that checks nodes against the manifests parse
// all three profiles' (about 60 ms with the yaml package, under 1 ms natively). These are plain data
// files of ours; the config, whose errors point at lines and keep comments, still goes through yaml.
function parseYaml(text: string, path: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = Bun.YAML.parse(text);
  } catch (e) {
    throw new ManifestError(`${path}: not valid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof doc !== "object" || doc === null) throw new ManifestError(`${path}: not a YAML mapping`);
  return doc as Record<string, unknown>;
}

function need<T>(cond: unknown, path: string, what: string): asserts cond {
  if (!cond) throw new ManifestError(`${path}: ${what}`);
}

const isStr = (v: unknown): v is string => typeof v === "string" && v !== "";
const isSha = (v: unknown) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v);

/** Parse and check a profile's manifests; `paths` name the files in the errors. */
function checkedManifests(name: ProfileName, texts: ManifestTexts, paths: ManifestTexts): ProfileManifests {
  const pkgPath = paths.packages;
  const filesPath = paths.files;
  const imgPath = paths.images;
  const packages = parseYaml(texts.packages, pkgPath) as unknown as PackageManifest;
  const files = parseYaml(texts.files, filesPath) as unknown as FilesManifest;
  const images = parseYaml(texts.images, imgPath) as unknown as ImageManifest;

  for (const [doc, path] of [[packages, pkgPath], [files, filesPath], [images, imgPath]] as const) {
    need(doc.profile === name, path, `profile is "${doc.profile}", expected "${name}"`);
  }
  need(packages.format === "rpm" || packages.format === "deb", pkgPath, `format must be rpm or deb`);
  need(isStr(packages.kubernetesVersion), pkgPath, "kubernetesVersion is missing");
  need(Array.isArray(packages.packages), pkgPath, "packages must be a list");
  // Sums may be unknown only where this machine cannot assemble the profile (no upstream reachable).
  const unknownAllowed = packages.format === "rpm";
  packages.packages.forEach((p, i) => {
    const at = `packages[${i}] (${p?.name})`;
    for (const k of ["name", "version", "arch", "file", "repo"] as const) need(isStr(p[k]), pkgPath, `${at}: ${k} is missing`);
    need(packages.repos?.[p.repo] !== undefined, pkgPath, `${at}: repo "${p.repo}" is not one of repos`);
    need(isSha(p.sha256) || (unknownAllowed && p.sha256 === UNKNOWN_SHA256), pkgPath, `${at}: sha256 must be 64 hex digits`);
  });
  need(Array.isArray(files.files), filesPath, "files must be a list");
  files.files.forEach((f, i) => {
    const at = `files[${i}] (${f?.name})`;
    need(isStr(f.name) && !f.name.includes("/"), filesPath, `${at}: name must be a plain file name`);
    need([f.url, f.pack, f.standin].filter(Boolean).length === 1, filesPath, `${at}: exactly one of url, pack, standin`);
    if (f.pack) need(Array.isArray(f.pack.debs) && (f.pack.members === undefined) !== (f.pack.file === undefined), filesPath, `${at}: pack needs debs and exactly one of members, file`);
    if (f.url) need(isSha(f.sha256) || f.sha256 === UNKNOWN_SHA256, filesPath, `${at}: sha256 must be 64 hex digits or "${UNKNOWN_SHA256}"`);
  });
  need(images.source === "pull" || images.source === "build", imgPath, "source must be pull or build");
  need(isStr(images.platform) && images.platform.includes("/"), imgPath, "platform must be os/arch");
  need(Array.isArray(images.images) && images.images.length > 0, imgPath, "images must be a non-empty list");
  images.images.forEach((im, i) => {
    need(isStr(im.ref) && /^[^/]+\.[^/]+\/.+:[\w][\w.-]*$/.test(im.ref), imgPath, `images[${i}]: ref "${im.ref}" must be registry/repository:tag`);
    if (im.digest !== undefined) need(/^sha256:[0-9a-f]{64}$/.test(im.digest), imgPath, `images[${i}]: digest must be sha256:<64 hex>`);
  });
  return { name, packages, files, images };
}

function readManifest(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ManifestError(`cannot read manifest ${path}: ${(e as Error).message}`);
  }
}

/** A profile's manifests as they are in the repository under `root` (bundle assembly; tests pass their own root). */
export function loadManifests(name: string, root = REPO_ROOT): ProfileManifests {
  if (!isProfileName(name)) throw new ManifestError(`unknown profile "${name}"; known profiles: ${PROFILE_NAMES.join(", ")}`);
  const rel = manifestPaths(name);
  const paths = { packages: join(root, rel.packages), files: join(root, rel.files), images: join(root, rel.images) };
  return checkedManifests(name, { packages: readManifest(paths.packages), files: readManifest(paths.files), images: readManifest(paths.images) }, paths);
}

/** The manifests this executable carries for a profile (the copy it was built with). */
export function embeddedManifests(profile: OsProfile): ProfileManifests {
  return checkedManifests(profile.name as ProfileName, profile.manifests, manifestPaths(profile.name));
}

/** The embedded manifests of a profile by name; undefined for a name no profile has. */
export function embeddedManifestsOf(name: string): ProfileManifests | undefined {
  const profile = findProfile(name);
  return profile && embeddedManifests(profile);
}

/** images/<name>.tar for an image reference: the repository's last path element and the tag. */
export function imageArchiveName(ref: string): string {
  const slash = ref.lastIndexOf("/");
  const [repo, tag] = ref.slice(slash + 1).split(":");
  return `${repo}-${tag}.tar`;
}
