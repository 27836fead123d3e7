// Small but real OCI images for the lab profile: one gzip tar layer holding a marker file (plus any
// files the caller adds), an image config with the matching diff_id, an OCI manifest, and an index
// naming the full upstream reference. Same inputs → same digests (fixed mtimes, deterministic gzip).
import { gzipSync } from "node:zlib";
import { sha256Hex } from "../util/hash.ts";
import { MT, writeOciArchive, type Descriptor } from "./oci-layout.ts";
import { FIXED_MTIME, tarBytes, type TarMember } from "./tar.ts";

export interface BuiltImage {
  ref: string;
  /** Digest of the image manifest (what index.json points at). */
  digest: string;
  manifest: Descriptor;
}

const digestOf = (b: Uint8Array) => `sha256:${sha256Hex(b)}`;

/** Build `ref` as an OCI layout tar at `out`. */
export async function buildLabImage(out: string, ref: string, extra: TarMember[] = [], platform = "linux/amd64"): Promise<BuiltImage> {
  const [os, architecture] = platform.split("/") as [string, string];
  const layerTar = await tarBytes([
    { name: "etc/" },
    { name: "etc/k8s-ha-offline-image", data: `${ref}\nA stand-in image built for the k8s-ha-offline lab; it runs nothing.\n` },
    ...extra,
  ]);
  const layer = gzipSync(layerTar, { level: 9 });
  const config = Buffer.from(
    JSON.stringify({
      created: FIXED_MTIME.toISOString(),
      architecture,
      os,
      config: { Labels: { "io.k8s-ha-offline.lab-image": ref } },
      rootfs: { type: "layers", diff_ids: [digestOf(layerTar)] },
      history: [{ created: FIXED_MTIME.toISOString(), created_by: "k8s-ha-offline oci-build" }],
    }),
  );
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: digestOf(config), size: config.length },
      layers: [{ mediaType: MT.ociLayerGzip, digest: digestOf(layer), size: layer.length }],
    }),
  );
  const manifest: Descriptor = { mediaType: MT.ociManifest, digest: digestOf(manifestBytes), size: manifestBytes.length, platform: { architecture, os } };
  await writeOciArchive(out, {
    ref,
    manifest,
    blobs: [
      { digest: manifest.digest, data: manifestBytes },
      { digest: digestOf(config), data: config },
      { digest: digestOf(layer), data: layer },
    ],
  });
  return { ref, digest: manifest.digest, manifest };
}
