// An el9 bundle assembled end to end from stand-in "upstream" servers on loopback: a yum repository
// (RPMs built with rpmbuild, hash-prefixed hrefs, xz metadata), a release tarball, and a registry that
// wants anonymous bearer tokens, serves a multi-arch manifest list and redirects blobs to storage that
// must not see the token. Then real dnf installs from the bundle's repository, and skopeo reads its images.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { stringify } from "yaml";
import { assembleBundle } from "../../src/bundle/assemble.ts";
import { sha256File, sha256Hex } from "../../src/util/hash.ts";
import { MT } from "../../src/bundle/oci-layout.ts";
import { tarBytes, withParentDirs, writeTar } from "../../src/bundle/tar.ts";
import { readLock, type BundleLock } from "../../src/depot/lock.ts";
import { renderYumRepo } from "../../src/profiles/yum.ts";
import { verifyBundle } from "../../src/depot/verify.ts";
import type { DepotServer } from "../../src/depot/server.ts";
import { generateRepoKey, type RepoKey } from "../../src/depot/repo-signing.ts";
import { NODE_DEPOT_CA, NODE_REPO_KEY_ASC } from "../../src/depot/trust-paths.ts";
import { depotTls, startInstalledDepot } from "./support/depot-tls.ts";

const UPSTREAM = 5220; // yum repo + release files
const REGISTRY = 5221;
const AUTH = 5222;
const CDN = 5223;
const DEPOT = 5224; // the depot serves the assembled bundle to dnf (TLS, signed repodata)
const REGIONAL = 5225; // where the registry redirects pause:3.9 (like registry.k8s.io → a regional registry)
const tokenFor = (service: string) => `anon-pull-token-for-${service}`;

const work = mkdtempSync(join(tmpdir(), "repo-yum-"));
const upstream = join(work, "upstream");
const root = join(work, "manifests");
const outDir = join(work, "dist/bundle-el9");
const servers: ReturnType<typeof Bun.serve>[] = [];
const tokenRequests: URLSearchParams[] = [];
const cdnRequests: { auth: string | null }[] = [];
const blobs = new Map<string, Uint8Array>();
const manifests = new Map<string, { bytes: Uint8Array; type: string }>(); // by "repo:tag" and "repo@digest"
let lock: BundleLock;
let amd64Digest = "";
let amd64Layer = "";
let indexDigest = "";
let etcdSha = "";
let depot: DepotServer | undefined;
let repoKey: RepoKey;

async function sh(cmd: string[], cwd?: string): Promise<string> {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" } });
  const [o, e, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${e}${o}`);
  return o + e;
}

async function rpm(name: string, version: string, release: string, requires?: string): Promise<string> {
  const top = join(work, "rpmbuild");
  const spec = join(work, `${name}.spec`);
  writeFileSync(
    spec,
    [
      `Name: ${name}`, `Version: ${version}`, `Release: ${release}`, "Summary: depot test package", "License: MIT", "BuildArch: noarch",
      ...(requires ? [`Requires: ${requires}`] : []),
      "%description", "depot test package",
      "%install", `mkdir -p %{buildroot}/usr/share/${name}`, `echo ${name}-${version} > %{buildroot}/usr/share/${name}/hello`,
      "%files", `/usr/share/${name}/hello`, "",
    ].join("\n"),
  );
  await sh(["rpmbuild", "--quiet", "--define", `_topdir ${top}`, "-bb", spec]);
  return join(top, "RPMS/noarch", `${name}-${version}-${release}.noarch.rpm`);
}

function blob(data: Uint8Array | string): { digest: string; size: number; bytes: Uint8Array } {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const digest = `sha256:${sha256Hex(bytes)}`;
  blobs.set(digest, bytes);
  return { digest, size: bytes.length, bytes };
}

/** An image for one architecture: gzip layer, config, docker or OCI manifest; returns the manifest. */
async function image(arch: string, note: string, docker: boolean) {
  const layerTar = await tarBytes([{ name: "etc/" }, { name: "etc/arch", data: `${arch} ${note}\n` }]);
  const layer = blob(gzipSync(layerTar));
  const config = blob(JSON.stringify({ architecture: arch, os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${sha256Hex(layerTar)}`] }, config: {} }));
  const type = docker ? MT.dockerManifest : MT.ociManifest;
  const m = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: type,
      config: { mediaType: docker ? "application/vnd.docker.container.image.v1+json" : MT.ociConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : MT.ociLayerGzip, digest: layer.digest, size: layer.size }],
    }),
  );
  return { bytes: m, type, digest: `sha256:${sha256Hex(m)}` };
}

function putManifest(repo: string, refs: string[], m: { bytes: Uint8Array; type: string }) {
  for (const r of refs) manifests.set(`${repo}:${r}`, m);
}

function serveDir(port: number, dir: string) {
  servers.push(
    Bun.serve({
      hostname: "127.0.0.1",
      port,
      fetch(req) {
        const path = decodeURIComponent(new URL(req.url).pathname);
        const f = Bun.file(join(dir, path));
        return !path.includes("..") && existsSync(join(dir, path)) && f.size > 0 ? new Response(f) : new Response("not found", { status: 404 });
      },
    }),
  );
}

/** A registry that wants its own anonymous token; the main one sends pause to the regional one. */
function registry(req: Request, service: string): Response {
  const url = new URL(req.url);
  const m = url.pathname.match(/^\/v2\/(.+)\/(manifests|blobs)\/(.+)$/);
  if (!m) return new Response("{}", { status: 404 });
  const [, repo, kind, ref] = m as unknown as [string, string, string, string];
  if (service === "stand-in-registry" && repo === "pause") return Response.redirect(`http://127.0.0.1:${REGIONAL}${url.pathname}`, 307);
  if (req.headers.get("authorization") !== `Bearer ${tokenFor(service)}`) {
    return new Response('{"errors":[{"code":"UNAUTHORIZED"}]}', {
      status: 401,
      headers: { "www-authenticate": `Bearer realm="http://127.0.0.1:${AUTH}/token",service="${service}",scope="repository:${repo}:pull"` },
    });
  }
  if (kind === "blobs") return blobs.has(ref) ? Response.redirect(`http://127.0.0.1:${CDN}/storage/${ref}?sig=x`, 307) : new Response("{}", { status: 404 });
  const found = manifests.get(`${repo}:${ref}`);
  if (!found) return new Response("{}", { status: 404 });
  return new Response(found.bytes, { headers: { "content-type": found.type, "docker-content-digest": `sha256:${sha256Hex(found.bytes)}` } });
}

function writeManifests(opts: { etcdSha?: string; pauseDigest?: string; extraPackage?: boolean } = {}) {
  mkdirSync(join(root, "rpms"), { recursive: true });
  mkdirSync(join(root, "images"), { recursive: true });
  writeFileSync(
    join(root, "rpms/el9.yaml"),
    stringify({
      profile: "el9", format: "rpm", os: "stand-in el9", kubernetesVersion: "1.30.6",
      repos: { kubernetes: `http://127.0.0.1:${UPSTREAM}/k8s/` },
      wanted: ["depot-app"],
      packages: [
        { name: "depot-app", version: "2.5-3", arch: "noarch", file: "depot-app-2.5-3.noarch.rpm", sha256: "unknown until assembled", repo: "kubernetes" },
        { name: "depot-lib", version: "0:1.0-1", arch: "noarch", file: "depot-lib-1.0-1.noarch.rpm", sha256: "unknown until assembled", repo: "kubernetes" },
        ...(opts.extraPackage ? [{ name: "depot-gone", version: "9-9", arch: "noarch", file: "x.rpm", sha256: "unknown until assembled", repo: "kubernetes" }] : []),
      ],
    }),
  );
  writeFileSync(
    join(root, "rpms/el9.files.yaml"),
    stringify({
      profile: "el9",
      files: [
        {
          name: "etcd-v3.5.15-linux-amd64.tar.gz", role: "etcd", url: `http://127.0.0.1:${UPSTREAM}/releases/etcd-v3.5.15-linux-amd64.tar.gz`,
          sha256: opts.etcdSha ?? etcdSha, members: ["etcd-v3.5.15-linux-amd64/etcd", "etcd-v3.5.15-linux-amd64/etcdctl"],
        },
        { name: "runc.amd64", role: "runtime", url: `http://127.0.0.1:${UPSTREAM}/releases/runc.amd64`, sha256: "unknown until assembled" },
      ],
    }),
  );
  writeFileSync(
    join(root, "images/el9.yaml"),
    stringify({
      profile: "el9", platform: "linux/amd64", source: "pull",
      images: [
        { ref: `127.0.0.1:${REGISTRY}/kube-apiserver:v1.30.6`, digest: indexDigest },
        { ref: `127.0.0.1:${REGISTRY}/pause:3.9`, ...(opts.pauseDigest ? { digest: opts.pauseDigest } : {}) },
      ],
    }),
  );
}

beforeAll(async () => {
  // The yum repository, laid out like pkgs.k8s.io / the old Google repo: hash-prefixed file names.
  const pool = join(upstream, "k8s/pool");
  mkdirSync(pool, { recursive: true });
  for (const f of [await rpm("depot-lib", "1.0", "1"), await rpm("depot-app", "2.5", "3", "depot-lib >= 1.0")]) {
    copyFileSync(f, join(pool, `${(await sha256File(f)).sha256.slice(0, 16)}-${f.split("/").pop()}`));
  }
  await sh(["createrepo_c", "--quiet", "--general-compress-type=xz", join(upstream, "k8s")]);

  mkdirSync(join(upstream, "releases"), { recursive: true });
  const bin = join(work, "fake-bin");
  writeFileSync(bin, "#!/bin/sh\necho stand-in\n");
  await writeTar(
    join(upstream, "releases/etcd-v3.5.15-linux-amd64.tar.gz"),
    withParentDirs([
      { name: "etcd-v3.5.15-linux-amd64/etcd", path: bin, mode: 0o755 },
      { name: "etcd-v3.5.15-linux-amd64/etcdctl", path: bin, mode: 0o755 },
    ]),
    { gzip: true },
  );
  etcdSha = (await sha256File(join(upstream, "releases/etcd-v3.5.15-linux-amd64.tar.gz"))).sha256;
  writeFileSync(join(upstream, "releases/runc.amd64"), "runc stand-in");
  serveDir(UPSTREAM, upstream);

  // Registry content: a multi-arch docker manifest list, and a single-arch OCI manifest.
  const amd64 = await image("amd64", "apiserver", true);
  const arm64 = await image("arm64", "apiserver", true);
  amd64Digest = amd64.digest;
  amd64Layer = JSON.parse(Buffer.from(amd64.bytes).toString()).layers[0].digest;
  const list = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.dockerList,
      manifests: [
        { mediaType: MT.dockerManifest, digest: arm64.digest, size: arm64.bytes.length, platform: { architecture: "arm64", os: "linux" } },
        { mediaType: MT.dockerManifest, digest: amd64.digest, size: amd64.bytes.length, platform: { architecture: "amd64", os: "linux" } },
      ],
    }),
  );
  indexDigest = `sha256:${sha256Hex(list)}`;
  putManifest("kube-apiserver", ["v1.30.6", indexDigest], { bytes: list, type: MT.dockerList });
  putManifest("kube-apiserver", [amd64.digest], amd64);
  putManifest("kube-apiserver", [arm64.digest], arm64);
  const pause = await image("amd64", "pause", false);
  putManifest("pause", ["3.9", pause.digest], pause);

  servers.push(
    Bun.serve({
      hostname: "127.0.0.1",
      port: AUTH,
      fetch(req) {
        const q = new URL(req.url).searchParams;
        tokenRequests.push(q);
        return Response.json({ token: tokenFor(q.get("service") ?? ""), expires_in: 300 });
      },
    }),
    Bun.serve({ hostname: "127.0.0.1", port: REGISTRY, fetch: (req) => registry(req, "stand-in-registry") }),
    Bun.serve({ hostname: "127.0.0.1", port: REGIONAL, fetch: (req) => registry(req, "regional") }),
    Bun.serve({
      hostname: "127.0.0.1",
      port: CDN,
      fetch(req) {
        cdnRequests.push({ auth: req.headers.get("authorization") });
        // Real blob storage rejects a request carrying the registry's token alongside its signed URL.
        if (req.headers.get("authorization")) return new Response("InvalidArgument: only one auth mechanism allowed", { status: 400 });
        const b = blobs.get(new URL(req.url).pathname.replace("/storage/", ""));
        return b ? new Response(b) : new Response("no such blob", { status: 404 });
      },
    }),
  );
  writeManifests();
  lock = await assembleBundle({ profile: "el9", outDir, root, log: () => {} });
  // The real depot, as installed: HTTPS with a certificate of the depot CA, repodata signed with the cluster key.
  const pki = await depotTls();
  repoKey = await generateRepoKey("lab");
  writeFileSync(join(work, "depot-ca.crt"), pki.caPem);
  writeFileSync(join(work, "depot-repo.asc"), repoKey.publicArmored);
  depot = await startInstalledDepot(outDir, DEPOT, pki, repoKey.privateArmored);
}, 120_000);

afterAll(async () => {
  await depot?.stop();
  for (const s of servers) s.stop(true);
  rmSync(work, { recursive: true, force: true });
});

describe("el9 bundle from stand-in upstreams", () => {
  test("the lock lists the RPMs, the regenerated repodata, the release files and the images, and the bundle verifies", async () => {
    const paths = lock.files.map((f) => f.path);
    expect(paths).toContain("repo/el9/depot-app-2.5-3.noarch.rpm");
    expect(paths).toContain("repo/el9/depot-lib-1.0-1.noarch.rpm");
    expect(paths).toContain("repo/el9/repodata/repomd.xml");
    expect(paths).toContain("files/etcd-v3.5.15-linux-amd64.tar.gz");
    expect(lock.files.find((f) => f.path === "files/etcd-v3.5.15-linux-amd64.tar.gz")!.sha256).toBe(etcdSha);
    expect(lock.files.find((f) => f.path === "repo/el9/depot-app-2.5-3.noarch.rpm")!.kind).toBe("rpm");
    expect(lock.files.filter((f) => f.kind === "image").map((f) => f.path).sort()).toEqual(["images/kube-apiserver-v1.30.6.tar", "images/pause-3.9.tar"]);
    expect(readLock(outDir)).toEqual(lock);
    expect(existsSync(`${outDir}.partial`)).toBe(false);
    const v = await verifyBundle(outDir, lock);
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
  });

  test("each registry's token flow was followed, through a redirect too, and the blob storage never saw a token", () => {
    expect(tokenRequests.map((q) => `${q.get("service")} ${q.get("scope")}`).sort()).toEqual([
      "regional repository:pause:pull",
      "stand-in-registry repository:kube-apiserver:pull",
    ]);
    expect(cdnRequests.length).toBeGreaterThanOrEqual(4);
    expect(cdnRequests.every((r) => r.auth === null)).toBe(true);
  });

  test("the multi-arch list was narrowed to linux/amd64, stored as OCI, which skopeo reads back with the lock's digest", async () => {
    const api = lock.images.find((i) => i.ref.endsWith("kube-apiserver:v1.30.6"))!;
    const tar = join(outDir, api.file);
    const raw = await sh(["skopeo", "inspect", "--raw", `oci-archive:${tar}:${api.ref}`]);
    expect(`sha256:${sha256Hex(raw)}`).toBe(api.digest);
    // Docker schema2 upstream → OCI in the archive: other digest, same blobs.
    expect(api.digest).not.toBe(amd64Digest);
    expect(JSON.parse(raw).mediaType).toBe(MT.ociManifest);
    expect(JSON.parse(raw).layers[0].digest).toBe(amd64Layer);
    const info = JSON.parse(await sh(["skopeo", "inspect", `oci-archive:${tar}:${api.ref}`]));
    expect(info.Architecture).toBe("amd64");
    const pause = lock.images.find((i) => i.ref.endsWith("pause:3.9"))!;
    expect(pause.digest).toBe(`sha256:${sha256Hex(manifests.get("pause:3.9")!.bytes)}`);
    await sh(["skopeo", "copy", "--quiet", `oci-archive:${tar}:${api.ref}`, `dir:${join(work, "copied")}`]);
  });

  /** dnf installs depot-app (and its dependency) into a fresh root, with the node's .repo file naming `depots`. */
  async function dnfInstall(name: string, depots: string[]): Promise<void> {
    const installroot = join(work, `installroot-${name}`);
    const reposdir = join(work, `yum.repos.d-${name}`);
    mkdirSync(reposdir, { recursive: true });
    // The node's file as rendered, with the CA and key at this test's paths instead of the node's /etc.
    const repo = renderYumRepo(depots, "el9").replaceAll(NODE_DEPOT_CA, join(work, "depot-ca.crt")).replace(NODE_REPO_KEY_ASC, join(work, "depot-repo.asc"));
    expect(repo).toContain("repo_gpgcheck=1\n");
    writeFileSync(join(reposdir, "k8s-ha-offline.repo"), repo);
    const out = await sh([
      "dnf", "-y", "--installroot", installroot, "--releasever", "9", "--setopt", `reposdir=${reposdir}`,
      "--setopt", "install_weak_deps=False", "install", "depot-app",
    ]);
    expect(out).toContain("Complete!");
    expect(out.match(/Fingerprint: (.+)/)?.[1]?.replace(/ /g, "")).toBe(repoKey.fingerprint);
    expect(await Bun.file(join(installroot, "usr/share/depot-app/hello")).text()).toBe("depot-app-2.5\n");
    expect(await Bun.file(join(installroot, "usr/share/depot-lib/hello")).text()).toBe("depot-lib-1.0\n");
  }

  test("dnf installs a package and its dependency from the depot over TLS, the repodata verified with the cluster key", async () => {
    await dnfInstall("one", [`https://127.0.0.1:${DEPOT}`]);
  });

  test("with the first depot down, dnf takes the repository from the next baseurl", async () => {
    // Nothing listens on the first depot's port (master1 down); the second is the one that serves.
    await dnfInstall("failover", [`https://127.0.0.1:${DEPOT + 1}`, `https://127.0.0.1:${DEPOT}`]);
  });

  test("a release file whose sum differs from the pin fails the assembly by name and leaves no bundle", async () => {
    writeManifests({ etcdSha: "0".repeat(64) });
    const dir = join(work, "dist/bundle-bad");
    try {
      await expect(assembleBundle({ profile: "el9", outDir: dir, root, log: () => {} })).rejects.toThrow(/etcd-v3\.5\.15-linux-amd64\.tar\.gz: sha256 [0-9a-f]{64}, expected 0{64}/);
      expect(existsSync(dir) || existsSync(`${dir}.partial`)).toBe(false);
    } finally {
      writeManifests();
    }
  });

  test("a moved tag and a package missing upstream are refused with what to fix", async () => {
    const dir = join(work, "dist/bundle-bad2");
    try {
      writeManifests({ pauseDigest: `sha256:${"1".repeat(64)}` });
      await expect(assembleBundle({ profile: "el9", outDir: dir, root, log: () => {} })).rejects.toThrow(/pause:3\.9 now points at sha256:[0-9a-f]{64}, the manifest pins sha256:1{64}/);
      writeManifests({ extraPackage: true });
      await expect(assembleBundle({ profile: "el9", outDir: dir, root, log: () => {} })).rejects.toThrow(/not in the upstream repositories: depot-gone-9-9\.noarch \(repo kubernetes\)/);
      expect(readdirSync(join(work, "dist")).sort()).toEqual(["bundle-el9"]);
    } finally {
      writeManifests();
    }
  });
});
