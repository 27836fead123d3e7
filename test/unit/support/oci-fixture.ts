// Small but real OCI images for tests: gzip'd tar layers holding a tiny file, a config whose
// diff_ids match the layers, a manifest, and for multi-platform images an index — packed as an
// OCI image layout inside a tar, the way the bundle stores images (images/<name>.tar).
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import tarStream from "tar-stream";

export type Flavour = "oci" | "docker";

export interface ImageSpec {
  /** Full upstream reference, e.g. registry.k8s.io/pause:3.5 */
  ref: string;
  /** "linux/amd64" etc. One platform: a plain manifest; several: an index over them. */
  platforms: string[];
  /** OCI media types (default) or Docker schema2 / manifest list. */
  flavour?: Flavour;
  /** Adds a layer with a file of this many random bytes (gzip'd, so about that big), for benchmarks. */
  bigLayerBytes?: number;
}

export interface BuiltImage {
  ref: string;
  /** What the tag resolves to: the index digest for multi-platform images, else the manifest digest. */
  digest: string;
  mediaType: string;
  /** platform ("linux/amd64") → manifest digest */
  manifests: Record<string, string>;
  /** Every layer and config digest with its size. */
  blobs: { digest: string; size: number }[];
}

const MT = {
  oci: {
    index: "application/vnd.oci.image.index.v1+json",
    manifest: "application/vnd.oci.image.manifest.v1+json",
    config: "application/vnd.oci.image.config.v1+json",
    layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  },
  docker: {
    index: "application/vnd.docker.distribution.manifest.list.v2+json",
    manifest: "application/vnd.docker.distribution.manifest.v2+json",
    config: "application/vnd.docker.container.image.v1+json",
    layerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  },
} as const;

export const sha256 = (b: Uint8Array | string): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** A tar (as bytes) of the given files, with fixed metadata so the bytes and digests are reproducible. */
export async function tarBytes(files: { name: string; data: Uint8Array | string; mode?: number }[]): Promise<Uint8Array> {
  const pack = tarStream.pack();
  const chunks: Uint8Array[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Uint8Array);
  })();
  for (const f of files) {
    const data = typeof f.data === "string" ? Buffer.from(f.data) : Buffer.from(f.data);
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: f.name, size: data.length, mode: f.mode ?? 0o644, mtime: new Date(0), uid: 0, gid: 0 }, data, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

interface Blob {
  digest: string;
  bytes: Uint8Array;
}

class LayoutWriter {
  readonly blobs = new Map<string, Uint8Array>();
  add(bytes: Uint8Array | string): Blob {
    const b = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
    const digest = sha256(b);
    this.blobs.set(digest, b);
    return { digest, bytes: b };
  }
}

function buildManifest(w: LayoutWriter, spec: ImageSpec, platform: string, layerFile: Uint8Array, bigLayer?: { tar: Uint8Array; gz: Uint8Array }) {
  const mt = MT[spec.flavour ?? "oci"];
  const [os, architecture] = platform.split("/") as [string, string];
  const layerTar = layerFile;
  const layerGz = gzipSync(layerTar);
  const layers: { mediaType: string; blob: Blob; diffId: string }[] = [{ mediaType: mt.layerGzip, blob: w.add(layerGz), diffId: sha256(layerTar) }];
  if (bigLayer) layers.push({ mediaType: mt.layerGzip, blob: w.add(bigLayer.gz), diffId: sha256(bigLayer.tar) });
  const config = w.add(
    JSON.stringify({
      architecture,
      os,
      config: { Cmd: ["/hello"], Env: ["PATH=/"] },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: [{ created_by: "k8s-ha-offline test fixture" }],
    }),
  );
  const manifest = w.add(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: mt.manifest,
      config: { mediaType: mt.config, digest: config.digest, size: config.bytes.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.blob.digest, size: l.blob.bytes.length })),
    }),
  );
  const blobs = [config, ...layers.map((l) => l.blob)].map((b) => ({ digest: b.digest, size: b.bytes.length }));
  return { manifest, blobs, platform: { os, architecture } };
}

// A real gzip'd tar layer: registries and skopeo sniff layers and would recompress anything else.
async function randomLayer(bytes: number): Promise<{ tar: Uint8Array; gz: Uint8Array }> {
  const tar = await tarBytes([{ name: "random.bin", data: new Uint8Array(randomBytes(bytes)) }]);
  return { tar, gz: gzipSync(tar) };
}

/** Write one OCI image layout tar holding all `specs` (each annotated with its ref). */
export async function writeOciArchive(file: string, specs: ImageSpec[]): Promise<BuiltImage[]> {
  const w = new LayoutWriter();
  const descriptors: object[] = [];
  const built: BuiltImage[] = [];
  for (const spec of specs) {
    const mt = MT[spec.flavour ?? "oci"];
    const annotations = { "org.opencontainers.image.ref.name": spec.ref };
    const bigLayer = spec.bigLayerBytes ? await randomLayer(spec.bigLayerBytes) : undefined;
    const perPlatform = await Promise.all(
      spec.platforms.map(async (p) =>
        buildManifest(w, spec, p, await tarBytes([{ name: "hello", data: `hello from ${spec.ref} on ${p}\n`, mode: 0o755 }]), bigLayer),
      ),
    );
    const manifests = Object.fromEntries(perPlatform.map((m, i) => [spec.platforms[i]!, m.manifest.digest]));
    const blobs = perPlatform.flatMap((m) => m.blobs);
    if (perPlatform.length === 1) {
      const m = perPlatform[0]!.manifest;
      descriptors.push({ mediaType: mt.manifest, digest: m.digest, size: m.bytes.length, annotations });
      built.push({ ref: spec.ref, digest: m.digest, mediaType: mt.manifest, manifests, blobs });
    } else {
      const index = w.add(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: mt.index,
          manifests: perPlatform.map((m) => ({ mediaType: mt.manifest, digest: m.manifest.digest, size: m.manifest.bytes.length, platform: m.platform })),
        }),
      );
      descriptors.push({ mediaType: mt.index, digest: index.digest, size: index.bytes.length, annotations });
      built.push({ ref: spec.ref, digest: index.digest, mediaType: mt.index, manifests, blobs });
    }
  }
  const files = [
    { name: "oci-layout", data: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
    { name: "index.json", data: JSON.stringify({ schemaVersion: 2, manifests: descriptors }) },
    ...[...w.blobs].map(([d, bytes]) => ({ name: `blobs/sha256/${d.slice(7)}`, data: bytes })),
  ];
  writeFileSync(file, await tarBytes(files));
  return built;
}

/** The images every registry test pulls: a single-arch kube image, a multi-arch index, a Docker-typed one, and a docker.io image. */
export const FIXTURE_IMAGES: { file: string; specs: ImageSpec[] }[] = [
  { file: "pause.tar", specs: [{ ref: "registry.k8s.io/pause:3.5", platforms: ["linux/amd64"] }] },
  {
    file: "kube-apiserver.tar",
    specs: [{ ref: "registry.k8s.io/kube-apiserver:v1.22.2", platforms: ["linux/amd64", "linux/arm64"] }],
  },
  {
    file: "coredns.tar",
    specs: [{ ref: "registry.k8s.io/coredns/coredns:v1.8.4", platforms: ["linux/amd64", "linux/arm64"], flavour: "docker" }],
  },
  {
    file: "flannel.tar",
    specs: [
      { ref: "docker.io/flannel/flannel:v0.22.0", platforms: ["linux/amd64"], flavour: "docker" },
      { ref: "docker.io/library/busybox:1.36", platforms: ["linux/amd64"] },
    ],
  },
];

/** Lay out <dir>/images/*.tar plus a few repo/ and files/ entries; returns what was built. */
export async function writeFixtureBundle(dir: string): Promise<BuiltImage[]> {
  mkdirSync(join(dir, "images"), { recursive: true });
  mkdirSync(join(dir, "repo", "debian12"), { recursive: true });
  mkdirSync(join(dir, "files"), { recursive: true });
  writeFileSync(join(dir, "repo", "debian12", "Packages"), "Package: hello\nVersion: 1.0\n");
  writeFileSync(join(dir, "files", "etcd-v3.4.9-linux-amd64.tar.gz"), gzipSync(await tarBytes([{ name: "etcd", data: "#!/bin/sh\n" }])));
  const built: BuiltImage[] = [];
  for (const f of FIXTURE_IMAGES) built.push(...(await writeOciArchive(join(dir, "images", f.file), f.specs)));
  return built;
}

/** A Logger that keeps its lines, so tests can assert on access logs and warnings. */
export function collectingLogger(): { info(m: string): void; warn(m: string): void; debug(m: string): void; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => void lines.push(m),
    warn: (m) => void lines.push(`WARN ${m}`),
    debug: (m) => void lines.push(`DEBUG ${m}`),
  };
}
