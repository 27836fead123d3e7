// Pulling images from upstream registries for the el* bundles (OCI distribution API, pull side):
// anonymous bearer tokens (401 + WWW-Authenticate: Bearer realm=...,service=...,scope=...), multi-arch
// index / manifest list → the manifest of one platform, blobs checked against their digests (following
// redirects to blob storage without the token), written as an OCI layout archive. Docker schema2
// manifests are rewritten as OCI manifests (same blobs, OCI media types), as `skopeo copy ... oci:` does:
// an OCI layout's index only names OCI manifests, so the archive's digest differs from the upstream one
// for those images; the lock records the archive's.
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "../util/hash.ts";
import { DownloadError, fetchRetry, saveBody } from "./http.ts";
import { MT, writeOciArchive, type Blob, type Descriptor } from "./oci-layout.ts";

export interface ImageRef {
  registry: string;
  repository: string;
  tag: string;
}

/** registry.k8s.io/coredns/coredns:v1.8.4 → {registry.k8s.io, coredns/coredns, v1.8.4}; docker.io names get library/. */
export function parseImageRef(ref: string): ImageRef {
  const m = ref.match(/^([^/]+)\/(.+):([\w][\w.-]{0,127})$/);
  if (!m || !/[.:]|^localhost$/.test(m[1]!)) throw new DownloadError(`"${ref}" is not a full image reference (registry/repository:tag)`);
  const [, registry, repository, tag] = m as unknown as [string, string, string, string];
  return { registry, repository: registry === "docker.io" && !repository.includes("/") ? `library/${repository}` : repository, tag };
}

/** Base URL of a registry's API: Docker Hub's API host, plain HTTP only for loopback registries (tests). */
export function registryBaseUrl(registry: string): string {
  if (registry === "docker.io") return "https://registry-1.docker.io";
  const host = registry.replace(/:\d+$/, "");
  return host === "localhost" || host.startsWith("127.") || host === "[::1]" ? `http://${registry}` : `https://${registry}`;
}

const MANIFEST_ACCEPT = [MT.ociIndex, MT.dockerList, MT.ociManifest, MT.dockerManifest].join(", ");

/** Parse `Bearer realm="...",service="...",scope="..."`. */
export function parseBearerChallenge(header: string): Record<string, string> | null {
  const m = header.match(/^\s*Bearer\s+(.*)$/i);
  if (!m) return null;
  const params: Record<string, string> = {};
  for (const p of m[1]!.matchAll(/(\w+)="([^"]*)"/g)) params[p[1]!.toLowerCase()] = p[2]!;
  return params.realm ? params : null;
}

/**
 * One repository on one registry. Anonymous pull tokens are kept per host: registry.k8s.io, for one,
 * redirects to a regional registry that issues its own challenge, and blob storage behind a redirect
 * must never receive a registry's token.
 */
class RegistryRepo {
  private readonly tokens = new Map<string, string>();
  constructor(private readonly ref: ImageRef, private readonly base = registryBaseUrl(ref.registry)) {}

  private async authorize(res: Response, host: string): Promise<void> {
    const challenge = parseBearerChallenge(res.headers.get("www-authenticate") ?? "");
    if (!challenge) throw new DownloadError(`${host} asks for credentials this tool does not have (only anonymous bearer tokens are supported)`);
    const u = new URL(challenge.realm!);
    if (challenge.service) u.searchParams.set("service", challenge.service);
    u.searchParams.set("scope", challenge.scope ?? `repository:${this.ref.repository}:pull`);
    const tr = await fetchRetry(u.href);
    if (!tr.ok) throw new DownloadError(`token request to ${u.origin}${u.pathname} failed: HTTP ${tr.status}`);
    const body = (await tr.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new DownloadError(`token service ${u.origin}${u.pathname} answered without a token`);
    this.tokens.set(host, token);
  }

  private send(url: string, accept?: string): Promise<Response> {
    const headers: Record<string, string> = {};
    if (accept) headers.accept = accept;
    const token = this.tokens.get(new URL(url).host);
    if (token) headers.authorization = `Bearer ${token}`;
    return fetchRetry(url, { headers, redirect: "manual" });
  }

  /** GET following redirects by hand; a 401 on any hop gets that host's token and one retry. */
  async get(kind: "manifests" | "blobs", reference: string, accept?: string): Promise<Response> {
    let url = `${this.base}/v2/${this.ref.repository}/${kind}/${reference}`;
    for (let hop = 0; hop < 6; hop++) {
      const host = new URL(url).host;
      let res = await this.send(url, accept);
      if (res.status === 401 && !this.tokens.has(host)) {
        await res.body?.cancel();
        await this.authorize(res, host);
        res = await this.send(url, accept);
      }
      const location = res.status >= 300 && res.status < 400 ? res.headers.get("location") : null;
      if (location) {
        await res.body?.cancel();
        url = new URL(location, url).href;
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new DownloadError(`${this.ref.registry}/${this.ref.repository} ${kind} ${reference}: HTTP ${res.status} from ${host}`);
      }
      return res;
    }
    throw new DownloadError(`${this.ref.registry}/${this.ref.repository} ${kind} ${reference}: too many redirects`);
  }

  /** A manifest (or index) by tag or digest, with its own digest checked. */
  async manifest(reference: string): Promise<{ bytes: Uint8Array; mediaType: string; digest: string }> {
    const res = await this.get("manifests", reference, MANIFEST_ACCEPT);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const digest = `sha256:${sha256Hex(bytes)}`;
    const claimed = res.headers.get("docker-content-digest");
    if (reference.startsWith("sha256:") && digest !== reference) throw new DownloadError(`manifest ${reference} arrived with digest ${digest}`);
    if (claimed && claimed !== digest) throw new DownloadError(`manifest ${reference}: registry says ${claimed}, content is ${digest}`);
    const mediaType = (JSON.parse(Buffer.from(bytes).toString("utf8")) as { mediaType?: string }).mediaType ?? res.headers.get("content-type") ?? MT.ociManifest;
    return { bytes, mediaType, digest };
  }
}

export interface PulledImage {
  ref: string;
  /** Digest of the image manifest the archive's index.json points at (OCI; see toOciManifest). */
  digest: string;
  /** Digest of the platform's manifest as upstream serves it. */
  upstreamDigest: string;
  /** Digest of what the tag points at upstream (the multi-arch index, or the manifest itself). */
  tagDigest: string;
}

const DOCKER_TO_OCI: Record<string, string> = {
  [MT.dockerManifest]: MT.ociManifest,
  "application/vnd.docker.container.image.v1+json": MT.ociConfig,
  "application/vnd.docker.image.rootfs.diff.tar.gzip": MT.ociLayerGzip,
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
};

/** A docker schema2 manifest as the equivalent OCI image manifest (blobs untouched); OCI ones as they are. */
export function toOciManifest(bytes: Uint8Array, mediaType: string): { bytes: Uint8Array; digest: string } {
  if (mediaType !== MT.dockerManifest) return { bytes, digest: `sha256:${sha256Hex(bytes)}` };
  const m = JSON.parse(Buffer.from(bytes).toString("utf8")) as ManifestJson;
  const convert = (d: Descriptor): Descriptor => {
    const mt = DOCKER_TO_OCI[d.mediaType];
    if (!mt) throw new DownloadError(`cannot store a blob of type ${d.mediaType} in an OCI layout`);
    return { ...d, mediaType: mt };
  };
  const oci = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: convert(m.config), layers: m.layers.map(convert) }));
  return { bytes: oci, digest: `sha256:${sha256Hex(oci)}` };
}

interface ManifestJson {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  manifests?: Descriptor[];
}

/** Pull `ref` for `platform` (os/arch) into an OCI layout archive at `out`. */
export async function pullImage(ref: string, out: string, opts: { platform: string; expectDigest?: string; workDir: string }): Promise<PulledImage> {
  const parsed = parseImageRef(ref);
  const repo = new RegistryRepo(parsed);
  const [os, architecture] = opts.platform.split("/") as [string, string];
  const top = await repo.manifest(parsed.tag);
  if (opts.expectDigest && top.digest !== opts.expectDigest) {
    throw new DownloadError(`${ref} now points at ${top.digest}, the manifest pins ${opts.expectDigest}: the tag was moved upstream`);
  }
  let chosen = top;
  if (top.mediaType === MT.ociIndex || top.mediaType === MT.dockerList) {
    const index = JSON.parse(Buffer.from(top.bytes).toString("utf8")) as ManifestJson;
    const entry = index.manifests?.find((d) => d.platform?.os === os && d.platform?.architecture === architecture);
    if (!entry) {
      const offered = (index.manifests ?? []).map((d) => `${d.platform?.os}/${d.platform?.architecture}`).join(", ");
      throw new DownloadError(`${ref} has no ${opts.platform} image (offers ${offered || "none"})`);
    }
    chosen = await repo.manifest(entry.digest);
  }
  const manifest = JSON.parse(Buffer.from(chosen.bytes).toString("utf8")) as ManifestJson;
  if (!manifest.config || !Array.isArray(manifest.layers)) throw new DownloadError(`${ref}: ${chosen.mediaType} is not an image manifest`);
  const work = mkdtempSync(join(opts.workDir, ".pull-"));
  try {
    const stored = toOciManifest(chosen.bytes, chosen.mediaType);
    const blobs: Blob[] = [{ digest: stored.digest, data: stored.bytes }];
    for (const d of [manifest.config, ...manifest.layers]) {
      if (!/^sha256:[0-9a-f]{64}$/.test(d.digest)) throw new DownloadError(`${ref}: unsupported blob digest ${d.digest}`);
      const path = join(work, d.digest.slice(7));
      const res = await repo.get("blobs", d.digest);
      await saveBody(res, `${ref} blob ${d.digest}`, path, { sha256: d.digest.slice(7), size: d.size });
      blobs.push({ digest: d.digest, path });
    }
    await writeOciArchive(out, {
      ref,
      manifest: { mediaType: MT.ociManifest, digest: stored.digest, size: stored.bytes.length, platform: { architecture, os } },
      blobs,
    });
    return { ref, digest: stored.digest, upstreamDigest: chosen.digest, tagDigest: top.digest };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
