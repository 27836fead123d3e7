// The pull check: ask the registry for each image's manifest, as a CRI would before pulling layers.
// The lab's depot speaks TLS only (master1:5000), verified as containerd's hosts.toml makes containerd
// verify it: against the depot CA the installer's trust phase put on the node. No CA there, or a
// registry whose certificate that CA did not sign, and the pull fails, as it does for the real one.
import fs from "node:fs";
import { rooted } from "./env.ts";

/** src/depot/trust-paths.ts NODE_DEPOT_CA (the stand-in is built on its own, so the path is repeated). */
export const NODE_DEPOT_CA = "/etc/k8s-ha-offline/depot-ca.crt";

function depotCa(): string | undefined {
  try {
    return fs.readFileSync(rooted(NODE_DEPOT_CA), "utf8");
  } catch {
    return undefined; // then only the system's CAs: our depot is not trusted, as containerd would not trust it
  }
}
const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export interface ImageRef { registry: string; path: string; tag: string }

export function parseImage(image: string): ImageRef {
  const at = image.lastIndexOf(":");
  const slash = image.indexOf("/");
  if (slash < 0 || at < slash) throw new Error(`image "${image}" has no registry host or no tag`);
  return { registry: image.slice(0, slash), path: image.slice(slash + 1, at), tag: image.slice(at + 1) };
}

/** null when the manifest is there, else why it cannot be pulled. */
export async function manifestProblem(image: string): Promise<string | null> {
  let ref: ImageRef;
  try {
    ref = parseImage(image);
  } catch (e) {
    return (e as Error).message;
  }
  const url = `https://${ref.registry}/v2/${ref.path}/manifests/${ref.tag}`;
  const ca = depotCa();
  try {
    const res = await fetch(url, { headers: { Accept: ACCEPT }, signal: AbortSignal.timeout(15_000), ...(ca ? { tls: { ca } } : {}) } as RequestInit);
    await res.arrayBuffer();
    if (res.ok) return null;
    return `GET ${url}: ${res.status} ${res.statusText}${res.status === 404 ? " (manifest unknown)" : ""}`;
  } catch (e) {
    return `GET ${url}: ${(e as Error).message}`;
  }
}

/** Problems of every image, checked in parallel, one line each. */
export async function pullProblems(images: string[]): Promise<string[]> {
  const found = await Promise.all(images.map(async (i) => [i, await manifestProblem(i)] as const));
  return found.filter(([, p]) => p !== null).map(([i, p]) => `failed to pull image ${i}: ${p}`);
}
