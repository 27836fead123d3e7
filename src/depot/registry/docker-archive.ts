// `docker save` archives (manifest.json + config + uncompressed layer tars, as docker before 25
// writes them): the registry needs a manifest, so one is made up in Docker schema2 form, naming the
// config and layers by the sha256 of the members as they are in the tar.
import { DOCKER_MANIFEST } from "./media-types.ts";
import { hashMember, ImageArchiveError, memberBytes, parseJson, type Archive } from "./archive.ts";
import type { TarMember } from "./tar-index.ts";

const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
const LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar";
const LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";

export interface SynthesizedImage {
  /** The RepoTags of the image, as docker wrote them. */
  refs: string[];
  manifest: { digest: string; mediaType: string; bytes: Uint8Array };
  blobs: { digest: string; member: TarMember }[];
}

export async function readDockerArchive(archive: Archive): Promise<SynthesizedImage[]> {
  const list = parseJson(archive, await memberBytes(archive, archive.members.get("manifest.json")!), "manifest.json");
  if (!Array.isArray(list)) throw new ImageArchiveError(archive.file, "manifest.json is not a list of images");
  const images: SynthesizedImage[] = [];
  for (const entry of list as { Config?: string; RepoTags?: string[]; Layers?: string[] }[]) {
    const config = await describe(archive, entry.Config, "config");
    const layers = await Promise.all((entry.Layers ?? []).map((path) => describe(archive, path, "layer")));
    const manifest = {
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: { mediaType: DOCKER_CONFIG, size: config.member.size, digest: config.digest },
      layers: await Promise.all(
        layers.map(async (l) => ({ mediaType: (await isGzip(archive, l.member)) ? LAYER_GZIP : LAYER_TAR, size: l.member.size, digest: l.digest })),
      ),
    };
    const bytes = new TextEncoder().encode(JSON.stringify(manifest, null, 3));
    const digest = `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
    images.push({ refs: entry.RepoTags ?? [], manifest: { digest, mediaType: DOCKER_MANIFEST, bytes }, blobs: [config, ...layers] });
  }
  return images;
}

async function describe(archive: Archive, path: string | undefined, what: string): Promise<{ digest: string; member: TarMember }> {
  const member = path ? archive.members.get(path.replace(/^\.\//, "")) : undefined;
  if (!member) throw new ImageArchiveError(archive.file, `manifest.json names ${what} ${path ?? "(none)"} which is not in the archive`);
  const digest = await hashMember(archive, member);
  // Configs (and layers, from newer writers) are named by their digest: a mismatch is corruption.
  const named = /(?:^|\/)([a-f0-9]{64})(?:\.json|\.tar)?$/.exec(member.name)?.[1];
  if (named && `sha256:${named}` !== digest) {
    throw new ImageArchiveError(archive.file, `${member.name} is corrupt (its sha256 is ${digest.slice(7)})`);
  }
  return { digest, member };
}

async function isGzip(archive: Archive, m: TarMember): Promise<boolean> {
  const head = await Bun.file(archive.file).slice(m.offset, m.offset + 2).bytes();
  return head[0] === 0x1f && head[1] === 0x8b;
}
