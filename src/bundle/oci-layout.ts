// OCI image layout archives (images/<name>.tar): oci-layout, index.json, blobs/sha256/<hex>.
// Shared by the lab image builder and the registry puller; the depot server reads these archives
// without unpacking them, keyed by the index.json annotation org.opencontainers.image.ref.name.
import { writeTar, type TarMember } from "./tar.ts";

export const MT = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;

export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

/** A blob by digest: bytes in memory or a file already verified against the digest. */
export interface Blob {
  digest: string;
  data?: Uint8Array;
  path?: string;
}

/** Write one image (manifest + its blobs) as an OCI layout tar whose index names it `ref`. */
export async function writeOciArchive(out: string, img: { ref: string; manifest: Descriptor; blobs: Blob[] }): Promise<void> {
  const index = {
    schemaVersion: 2,
    mediaType: MT.ociIndex,
    manifests: [{ ...img.manifest, annotations: { ...img.manifest.annotations, [REF_NAME_ANNOTATION]: img.ref } }],
  };
  const seen = new Set<string>();
  const blobMembers: TarMember[] = [];
  for (const b of img.blobs) {
    if (seen.has(b.digest)) continue; // a layer reused in one image is stored once
    seen.add(b.digest);
    blobMembers.push({ name: `blobs/sha256/${b.digest.replace(/^sha256:/, "")}`, data: b.data, path: b.path });
  }
  await writeTar(out, [
    { name: "oci-layout", data: `${JSON.stringify({ imageLayoutVersion: "1.0.0" })}\n` },
    { name: "index.json", data: JSON.stringify(index) },
    { name: "blobs/" },
    { name: "blobs/sha256/" },
    ...blobMembers,
  ]);
}
