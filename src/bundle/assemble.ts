// `bun run build.ts bundle --profile P` → dist/bundle-P/ (layout: README of config-format):
//   repo/<profile>/   packages + metadata (apt flat repo for debian12, repodata/ for el*)
//   files/<name>      runtime, etcd, CNI, Kubernetes tarballs
//   images/<name>.tar one OCI image layout per image
//   lock.json         size + sha256 of all of it (embedded in the binary by build.ts)
// Everything is assembled in <outDir>.partial and moved into place only when complete, so a failed or
// interrupted run never leaves a bundle that looks whole.
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeLock, type BundleLock, type LockImage } from "../depot/lock.ts";
import { imageArchiveName, loadManifests as loadProfile, REPO_ROOT, UNKNOWN_SHA256, type FileEntry, type ProfileManifests as Profile } from "../profiles/manifests.ts";
import { downloadDebs, writeFlatRepo } from "./apt.ts";
import { packFromDebsCached, packStandin } from "./debian-pack.ts";
import { downloadTo } from "./http.ts";
import { buildLock } from "./lock-build.ts";
import { buildLabImage } from "./oci-build.ts";
import { pullImage } from "./registry.ts";
import { run } from "./run.ts";
import { createRepo, downloadRpms } from "./yum.ts";

export interface AssembleOptions {
  profile: string;
  outDir: string;
  log: (msg: string) => void;
  /** Where rpms/ and images/ are read from (tests point it at their own manifests). */
  root?: string;
  /**
   * Another Kubernetes version than the profile's manifests name (a lab bundle to upgrade to): the
   * lock's kubernetesVersion, each image reference through `retag` (kubeadm's tags for that version)
   * and the stand-in built for it. Packages, runtime, etcd and CNI stay the manifests' own.
   */
  kubernetes?: { version: string; retag: (ref: string) => string; standinBinary: string };
}

/** test/kube-standin/dist/kube-standin, packed as kubeadm/kubelet/kubectl for the lab profile. */
export const KUBE_STANDIN = "test/kube-standin/dist/kube-standin";

async function assemblePackages(p: Profile, dir: string, log: (msg: string) => void): Promise<void> {
  const repoDir = join(dir, "repo", p.name);
  log(`packages: ${p.packages.packages.length} ${p.packages.format} files`);
  if (p.packages.format === "deb") {
    await downloadDebs(p.packages.packages, repoDir);
    await writeFlatRepo(repoDir, { label: `k8s-ha-offline ${p.name}` });
  } else {
    await downloadRpms(p.packages, repoDir, log);
    await createRepo(repoDir);
  }
}

/** Upstream tarballs must hold what the install steps extract from them. */
async function checkMembers(path: string, entry: FileEntry): Promise<void> {
  if (!entry.members?.length) return;
  const listing = new Set((await run(["tar", "-tzf", path])).split("\n").map((l) => l.replace(/^\.\//, "").replace(/\/$/, "")));
  const absent = entry.members.filter((m) => !listing.has(m.replace(/^\.\//, "")));
  if (absent.length) throw new Error(`files/${entry.name} lacks ${absent.join(", ")}: not the expected release tarball`);
}

async function assembleFiles(p: Profile, dir: string, standin: string, cacheDir: string, log: (msg: string) => void): Promise<void> {
  const filesDir = join(dir, "files");
  mkdirSync(filesDir, { recursive: true });
  for (const f of p.files.files) {
    if (f.pack) {
      const cached = await packFromDebsCached(f, filesDir, cacheDir);
      log(`files/${f.name} (packed from ${f.pack.debs.join(", ")}${cached ? "; the same recipe's earlier packing" : ""})`);
    } else if (f.standin) {
      const bin = standin;
      if (!existsSync(bin)) {
        log(`warning: ${bin} is not built; files/${f.name} left out (build the stand-in first for a complete lab bundle)`);
        continue;
      }
      log(`files/${f.name} (Kubernetes stand-in)`);
      await packStandin(f, filesDir, bin);
    } else {
      log(`files/${f.name} (${f.url})`);
      const sha256 = f.sha256 && f.sha256 !== UNKNOWN_SHA256 ? f.sha256 : undefined;
      await downloadTo(f.url!, join(filesDir, f.name), { sha256, size: f.size });
      await checkMembers(join(filesDir, f.name), f);
    }
  }
}

async function assembleImages(p: Profile, dir: string, log: (msg: string) => void): Promise<LockImage[]> {
  const imagesDir = join(dir, "images");
  mkdirSync(imagesDir, { recursive: true });
  const names = new Set<string>();
  const out: LockImage[] = [];
  for (const im of p.images.images) {
    const name = imageArchiveName(im.ref);
    if (names.has(name)) throw new Error(`images/${p.name}.yaml: two references would both be stored as images/${name}`);
    names.add(name);
    const file = `images/${name}`;
    const path = join(dir, file);
    if (p.images.source === "build") {
      const built = await buildLabImage(path, im.ref, [], p.images.platform);
      out.push({ ref: im.ref, digest: built.digest, file });
    } else {
      const pulled = await pullImage(im.ref, path, { platform: p.images.platform, expectDigest: im.digest, workDir: imagesDir });
      out.push({ ref: im.ref, digest: pulled.digest, file });
    }
    log(`${file} ${im.ref} ${out.at(-1)!.digest}`);
  }
  return out;
}

/** Assemble the bundle of `profile` into outDir (replacing it) and return its lock. */
export async function assembleBundle(opts: AssembleOptions): Promise<BundleLock> {
  const root = opts.root ?? REPO_ROOT;
  const loaded = loadProfile(opts.profile, root);
  const k = opts.kubernetes;
  const profile: Profile = k
    ? {
        ...loaded,
        packages: { ...loaded.packages, kubernetesVersion: k.version.replace(/^v/, "") },
        images: { ...loaded.images, images: loaded.images.images.map((im) => ({ ref: k.retag(im.ref) })) },
      }
    : loaded;
  const partial = `${opts.outDir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const started = Date.now();
  try {
    await assemblePackages(profile, partial, opts.log);
    await assembleFiles(profile, partial, k?.standinBinary ?? join(root, KUBE_STANDIN), join(root, "dist", ".pack-cache"), opts.log);
    const images = await assembleImages(profile, partial, opts.log);
    const lock = await buildLock(partial, { profile: profile.name, kubernetesVersion: profile.packages.kubernetesVersion, images });
    writeLock(partial, lock);
    rmSync(opts.outDir, { recursive: true, force: true });
    renameSync(partial, opts.outDir);
    const bytes = lock.files.reduce((n, f) => n + f.size, 0);
    opts.log(`bundle ${profile.name}: ${lock.files.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB, ${((Date.now() - started) / 1000).toFixed(0)} s → ${opts.outDir}`);
    return lock;
  } catch (e) {
    rmSync(partial, { recursive: true, force: true });
    throw e;
  }
}
