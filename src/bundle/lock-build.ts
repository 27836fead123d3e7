// Building lock.json from an assembled bundle directory: every file but lock.json, hashed.
import { readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { LOCK_FILE, type BundleLock, type LockFile, type LockFileKind, type LockImage } from "../depot/lock.ts";
import { mapLimit, sha256File } from "../util/hash.ts";

export function kindOfPath(path: string): LockFileKind {
  if (path.endsWith(".rpm")) return "rpm";
  if (path.endsWith(".deb")) return "deb";
  if (path.startsWith("images/") && path.endsWith(".tar")) return "image";
  return "file";
}

async function walk(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const abs = join(dir, d.name);
    if (d.isDirectory()) out.push(...(await walk(root, abs)));
    else if (d.isFile()) out.push(relative(root, abs).split(sep).join("/"));
    else throw new Error(`${abs}: the bundle must hold only regular files and directories`);
  }
  return out;
}

/** Hash every file under dir (except lock.json) into lock entries, sorted by path. */
export async function lockFilesOf(dir: string, concurrency = 4): Promise<LockFile[]> {
  const paths = (await walk(dir)).filter((p) => p !== LOCK_FILE).sort();
  return mapLimit(paths, concurrency, async (path) => ({ path, ...(await sha256File(join(dir, path))), kind: kindOfPath(path) }));
}

export async function buildLock(
  dir: string,
  meta: { profile: string; kubernetesVersion: string; images: LockImage[]; created?: Date },
): Promise<BundleLock> {
  return {
    profile: meta.profile,
    kubernetesVersion: meta.kubernetesVersion,
    created: (meta.created ?? new Date()).toISOString(),
    files: await lockFilesOf(dir),
    images: meta.images,
  };
}
