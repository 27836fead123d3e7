// Lab payloads packed from Debian's own binaries, laid out like the upstream release files the el*
// profiles download (containerd-<v>-linux-amd64.tar.gz, runc.amd64, etcd-v<v>-linux-amd64.tar.gz,
// cni-plugins-linux-amd64-v<v>.tgz), so the node-side install steps do not care where they came from.
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { FileEntry } from "../profiles/manifests.ts";
import { run } from "./run.ts";
import { withParentDirs, writeTar, type TarMember } from "./tar.ts";

/** Download the pinned debs (name=version) into work/ and unpack them all into one tree; returns its root. */
async function unpackDebs(debs: string[], work: string): Promise<string> {
  const dl = join(work, "debs");
  const tree = join(work, "tree");
  mkdirSync(dl, { recursive: true });
  mkdirSync(tree, { recursive: true });
  await run(["apt-get", "download", "-q", ...debs], { cwd: dl }).catch((e: Error) => {
    throw new Error(`cannot download ${debs.join(" ")}: ${e.message}\n(update the pinned versions in rpms/debian12.files.yaml to what apt-cache policy shows)`);
  });
  for (const f of readdirSync(dl)) await run(["dpkg-deb", "-x", join(dl, f), tree]);
  return tree;
}

/** Pack one `pack:` entry of a files manifest into outDir/<name>. */
export async function packFromDebs(entry: FileEntry, outDir: string): Promise<void> {
  const recipe = entry.pack!;
  const work = mkdtempSync(join(outDir, ".pack-"));
  try {
    const tree = await unpackDebs(recipe.debs, work);
    const inTree = (p: string) => {
      const abs = join(tree, p);
      if (!existsSync(abs)) throw new Error(`${entry.name}: ${p} is not in ${recipe.debs.join(", ")}`);
      return abs;
    };
    const out = join(outDir, entry.name);
    if (recipe.file) {
      copyFileSync(inTree(recipe.file), out);
      chmodSync(out, 0o755);
      return;
    }
    const members = Object.entries(recipe.members!).map(([name, src]): TarMember => ({ name, path: inTree(src), mode: 0o755 }));
    await writeTar(out, withParentDirs(members), { gzip: true });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * packFromDebs through a cache directory: the same recipe (pinned .deb versions, members) packed by the
 * same code gives the same payload, so a second bundle (the upgrade drill builds two more, whose runtime,
 * etcd and CNI payloads are the lab bundle's own) copies it instead of downloading, unpacking and
 * compressing again (about 50 s a bundle on two cores). Returns whether it came from the cache.
 */
export async function packFromDebsCached(entry: FileEntry, outDir: string, cacheDir: string): Promise<boolean> {
  const code = ["debian-pack.ts", "tar.ts"].map((f) => readFileSync(join(import.meta.dir, f), "utf8")).join("\0");
  const key = createHash("sha256").update(JSON.stringify({ name: entry.name, pack: entry.pack })).update(code).digest("hex").slice(0, 32);
  const cached = join(cacheDir, key, entry.name);
  if (existsSync(cached)) {
    copyFileSync(cached, join(outDir, entry.name));
    if (entry.pack!.file) chmodSync(join(outDir, entry.name), 0o755);
    return true;
  }
  await packFromDebs(entry, outDir);
  // Into the cache through a temporary name: a build killed here leaves no half file to be taken later.
  mkdirSync(join(cacheDir, key), { recursive: true });
  copyFileSync(join(outDir, entry.name), `${cached}.tmp`);
  renameSync(`${cached}.tmp`, cached);
  return false;
}

/**
 * Pack the Kubernetes stand-in binary under each member name of a `standin:` entry: stored once,
 * the other names are hard links to it (a full extraction gives three ordinary files).
 */
export async function packStandin(entry: FileEntry, outDir: string, standinBinary: string): Promise<void> {
  const [first, ...rest] = entry.standin!;
  const members: TarMember[] = [{ name: first!, path: standinBinary, mode: 0o755 }, ...rest.map((name) => ({ name, link: first!, mode: 0o755 }))];
  await writeTar(join(outDir, entry.name), withParentDirs(members), { gzip: true });
}
