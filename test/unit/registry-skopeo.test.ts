// A real registry client (skopeo, Debian package) pulls every fixture image from the depot over TLS,
// verified against the depot CA (--cert-dir), by tag and by digest, under the upstream name and the
// kubeadm (google_containers) name.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDepotServer, type DepotServer } from "../../src/depot/server.ts";
import { collectingLogger, sha256, writeFixtureBundle, type BuiltImage } from "./support/oci-fixture.ts";
import { depotTls } from "./support/depot-tls.ts";

const PORT = 5120;
const HOST = `127.0.0.1:${PORT}`;
let dir: string;
let depot: DepotServer;
let images: BuiltImage[];
/** skopeo's --cert-dir: ca.crt is the depot CA. */
const certDir = () => join(dir, "certs");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "registry-skopeo-"));
  images = await writeFixtureBundle(join(dir, "bundle"));
  // A `docker save`-style archive too, written by skopeo from the pause image.
  const saved = await run(["copy", `oci-archive:${join(dir, "bundle", "images", "pause.tar")}`, `docker-archive:${join(dir, "bundle", "images", "saved.tar")}:registry.k8s.io/pause-saved:3.5`]);
  if (saved.code !== 0) throw new Error(`could not write the docker-archive fixture: ${saved.stderr}`);
  const pki = await depotTls();
  mkdirSync(certDir());
  writeFileSync(join(certDir(), "ca.crt"), pki.caPem);
  depot = await startDepotServer({ bundleDir: join(dir, "bundle"), listen: { address: "127.0.0.1", port: PORT }, log: collectingLogger(), tls: pki.tls });
});

afterAll(async () => {
  await depot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// Async on purpose: the depot runs in this process, a synchronous spawn would block it.
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(["skopeo", "--override-os", "linux", ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

async function skopeo(...args: string[]): Promise<string> {
  const r = await run(args);
  if (r.code !== 0) throw new Error(`skopeo ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/** Repository names an upstream reference is served under. */
function namesOf(ref: string): { upstream: string; kubeadm: string; tag: string } {
  const [repo, tag] = [ref.slice(0, ref.lastIndexOf(":")), ref.slice(ref.lastIndexOf(":") + 1)];
  const upstream = repo.split("/").slice(1).join("/");
  return { upstream, kubeadm: `google_containers/${repo.split("/").pop()}`, tag };
}

describe("skopeo against the depot", async () => {
  test("the fixture covers single-arch, multi-arch, OCI and Docker media types", async () => {
    const types = new Set(images.map((i) => i.mediaType));
    expect(types.size).toBe(4);
  });

  test("inspect --raw by tag returns the stored manifest with the digest of the fixture, under both names", async () => {
    for (const img of images) {
      const { upstream, kubeadm, tag } = namesOf(img.ref);
      for (const name of [upstream, kubeadm]) {
        const raw = await skopeo("inspect", "--raw", "--cert-dir", certDir(), `docker://${HOST}/${name}:${tag}`);
        expect(sha256(raw)).toBe(img.digest);
        const info = JSON.parse(await skopeo("inspect", "--cert-dir", certDir(), `docker://${HOST}/${name}:${tag}`));
        expect(info.Digest).toBe(img.digest);
        expect(info.RepoTags).toContain(tag);
      }
    }
  }, 60_000);

  test("copy by tag and by digest keeps every digest (dir: verbatim, oci: with every blob)", async () => {
    for (const img of images) {
      const { upstream, kubeadm, tag } = namesOf(img.ref);
      for (const [i, src] of [`${upstream}:${tag}`, `${kubeadm}@${img.digest}`].entries()) {
        const slug = `${upstream.replaceAll("/", "_")}-${i}`;
        // dir: stores the manifest bytes as served, so its hash must be the fixture's digest.
        const verbatim = join(dir, `dir-${slug}`);
        await skopeo("copy", "--all", "--src-cert-dir", certDir(), `docker://${HOST}/${src}`, `dir:${verbatim}`);
        expect(sha256(readFileSync(join(verbatim, "manifest.json")))).toBe(img.digest);
        // oci: converts Docker media types to OCI ones (new manifest digests), so only OCI images keep theirs.
        const out = join(dir, `oci-${slug}`);
        await skopeo("copy", "--all", "--src-cert-dir", certDir(), `docker://${HOST}/${src}`, `oci:${out}:t`);
        const index = JSON.parse(readFileSync(join(out, "index.json"), "utf8"));
        const isOci = img.mediaType.includes(".oci.");
        if (isOci) expect(index.manifests[0].digest).toBe(img.digest);
        for (const b of img.blobs) {
          expect(sha256(readFileSync(join(verbatim, b.digest.slice(7))))).toBe(b.digest);
          if (isOci) expect(sha256(readFileSync(join(out, "blobs", "sha256", b.digest.slice(7))))).toBe(b.digest);
        }
      }
    }
  }, 120_000);

  test("a multi-arch tag gives each platform its own manifest", async () => {
    const multi = images.filter((i) => Object.keys(i.manifests).length > 1);
    expect(multi.length).toBeGreaterThan(0);
    for (const img of multi) {
      const { upstream, tag } = namesOf(img.ref);
      for (const [platform, digest] of Object.entries(img.manifests)) {
        const arch = platform.split("/")[1]!;
        const info = JSON.parse(await skopeo("--override-arch", arch, "inspect", "--cert-dir", certDir(), `docker://${HOST}/${upstream}:${tag}`));
        expect(info.Architecture).toBe(arch);
        const out = join(dir, `arch-${arch}-${upstream.replaceAll("/", "_")}`);
        await skopeo("--override-arch", arch, "copy", "--src-cert-dir", certDir(), `docker://${HOST}/${upstream}:${tag}`, `dir:${out}`);
        expect(sha256(readFileSync(join(out, "manifest.json")))).toBe(digest);
      }
    }
  }, 60_000);

  test("list-tags answers for the served names", async () => {
    const out = JSON.parse(await skopeo("list-tags", "--cert-dir", certDir(), `docker://${HOST}/google_containers/kube-apiserver`));
    expect(out.Tags).toEqual(["v1.22.2"]);
  });

  test("an image that is not in the bundle is reported unknown, not served", async () => {
    const r = await run(["inspect", "--cert-dir", certDir(), `docker://${HOST}/google_containers/etcd:3.5.0-0`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/name unknown/i);
  });

  test("a docker save archive is served too, with its config and layers intact", async () => {
    const pause = images.find((i) => i.ref === "registry.k8s.io/pause:3.5")!;
    const info = JSON.parse(await skopeo("inspect", "--cert-dir", certDir(), `docker://${HOST}/google_containers/pause-saved:3.5`));
    expect(info.RepoTags).toEqual(["3.5"]);
    const out = join(dir, "dir-saved");
    await skopeo("copy", "--src-cert-dir", certDir(), `docker://${HOST}/pause-saved:3.5`, `dir:${out}`);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    // The config is the very same blob as in the OCI original; layers are stored uncompressed by docker-archive.
    expect(manifest.config.digest).toBe(pause.blobs[0]!.digest);
    expect(manifest.layers[0].mediaType).toBe("application/vnd.docker.image.rootfs.diff.tar");
    for (const b of [manifest.config, ...manifest.layers]) expect(sha256(readFileSync(join(out, b.digest.slice(7))))).toBe(b.digest);
  }, 60_000);
});
