// The package repositories' signatures, made when the depot starts with the cluster's repository key
// (src/depot/repo-signing.ts) and served from memory: apt's InRelease and Release.gpg next to each
// repo/<profile>/Release, yum's repodata/repomd.xml.asc next to repomd.xml. Nothing is written into the
// bundle (it stays read-only and as assembled), and a signature always matches the file served beside it.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadRepoKey } from "../repo-signing.ts";

/** A file the depot answers from memory. */
export interface MemoryFile {
  body: string;
  type: string;
}

/** By request path, e.g. /repo/debian12/InRelease. A plain object: it crosses to the serving threads as a structured clone. */
export type SignedFiles = Record<string, MemoryFile>;

const readIf = (path: string) => readFile(path).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? null : Promise.reject(e)));

/** Sign every profile's repository metadata under bundleRoot/repo with the armored private key. */
export async function signRepositories(bundleRoot: string, privateArmored: string): Promise<SignedFiles> {
  let signer;
  try {
    signer = await loadRepoKey(privateArmored);
  } catch (e) {
    throw new Error(`cannot read the repository signing key: ${(e as Error).message}`);
  }
  const out: SignedFiles = {};
  const profiles = await readdir(join(bundleRoot, "repo"), { withFileTypes: true }).catch(() => []);
  for (const p of profiles.filter((d) => d.isDirectory())) {
    const base = `/repo/${p.name}`;
    const release = await readIf(join(bundleRoot, "repo", p.name, "Release"));
    if (release) {
      out[`${base}/InRelease`] = { body: await signer.clearsign(release.toString("utf8")), type: "text/plain" };
      out[`${base}/Release.gpg`] = { body: await signer.detachSign(new Uint8Array(release), true), type: "application/pgp-signature" };
    }
    const repomd = await readIf(join(bundleRoot, "repo", p.name, "repodata", "repomd.xml"));
    if (repomd) out[`${base}/repodata/repomd.xml.asc`] = { body: await signer.detachSign(new Uint8Array(repomd), true), type: "text/plain" };
  }
  return out;
}

export function memoryResponse(req: Request, f: MemoryFile): Response {
  const body = new TextEncoder().encode(f.body);
  const headers = { "Content-Type": f.type, "Content-Length": String(body.length) };
  return new Response(req.method === "HEAD" ? null : body, { status: 200, headers });
}
