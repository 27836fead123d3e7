// The lab profile's Debian side against Debian's real mirror and tools: closure resolution, pinned
// downloads checked by sha256, and tarballs packed from Debian binaries in the upstream layout.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadDebs, resolveDebClosure } from "../../src/bundle/apt.ts";
import { packFromDebs, packFromDebsCached, packStandin } from "../../src/bundle/debian-pack.ts";
import { sha256File } from "../../src/util/hash.ts";
import { loadManifests, type FileEntry, type PackageEntry } from "../../src/profiles/manifests.ts";

const work = mkdtempSync(join(tmpdir(), "bundle-debian-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const debian12 = loadManifests("debian12");

// The committed pins go stale at each Debian point release (the mirror drops replaced versions), so
// these tests exercise the mechanisms with what the mirror has today: a freshly resolved closure, and
// the packing recipes re-pinned to apt's candidate versions.
let resolved: PackageEntry[] = [];

async function atCandidate(entry: FileEntry): Promise<FileEntry> {
  const debs = await Promise.all(
    entry.pack!.debs.map(async (d) => {
      const name = d.split("=")[0]!;
      const candidate = (await sh(["apt-cache", "policy", name])).match(/Candidate: (\S+)/)![1]!;
      return `${name}=${candidate}`;
    }),
  );
  return { ...entry, pack: { ...entry.pack!, debs } };
}

async function sh(cmd: string[], cwd?: string): Promise<string> {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  const [o, e, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}: ${e}`);
  return o;
}

describe("debian12 packages", () => {
  test("the closure of socat on an empty system holds socat and libc6, pinned with Debian's sums", async () => {
    const closure = await resolveDebClosure(["socat"]);
    resolved = closure;
    const socat = closure.find((e) => e.name === "socat")!;
    expect(socat.file).toMatch(/^socat_.*_amd64\.deb$/);
    expect(closure.map((e) => e.name)).toContain("libc6");
    const policy = await sh(["apt-cache", "show", "--no-all-versions", `socat=${socat.version}`]);
    expect(policy).toContain(`SHA256: ${socat.sha256}`);
  }, 180_000);

  test("pinned debs are downloaded under their pool names and a wrong pin is refused by name", async () => {
    const pinned = resolved.filter((e) => e.name === "socat" || e.name === "libc6");
    expect(pinned).toHaveLength(2);
    const dir = join(work, "repo");
    await downloadDebs(pinned, dir);
    expect(readdirSync(dir).sort()).toEqual(pinned.map((e) => e.file).sort());
    for (const e of pinned) expect((await sha256File(join(dir, e.file))).sha256).toBe(e.sha256);
    const tampered = [{ ...pinned[0]!, sha256: "f".repeat(64) }];
    await expect(downloadDebs(tampered, join(work, "repo2"))).rejects.toThrow(new RegExp(`${pinned[0]!.file.replace(/[.+]/g, "\\$&")}: sha256 [0-9a-f]{64} .*does not match the manifest's f{64}`));
  }, 180_000);
});

describe("debian12 tarballs", () => {
  const files = join(work, "files");
  mkdirSync(files, { recursive: true });

  test("etcd is packed like the upstream release tarball, and the packed etcdctl runs", async () => {
    const entry = await atCandidate(debian12.files.files.find((f) => f.role === "etcd")!);
    await packFromDebs(entry, files);
    const listing = (await sh(["tar", "-tzvf", join(files, entry.name)])).trim().split("\n");
    expect(listing.map((l) => l.split(/\s+/).pop())).toEqual(["etcd-v3.4.23-linux-amd64/", "etcd-v3.4.23-linux-amd64/etcd", "etcd-v3.4.23-linux-amd64/etcdctl"]);
    expect(listing[1]).toStartWith("-rwxr-xr-x root/root");
    const out = join(work, "x");
    mkdirSync(out);
    await sh(["tar", "-xzf", join(files, entry.name), "-C", out]);
    expect(await sh([join(out, "etcd-v3.4.23-linux-amd64/etcdctl"), "version"])).toMatch(/etcdctl version: 3\.4\.\d+/);
    expect(readdirSync(files).filter((f) => f.startsWith("."))).toEqual([]); // no work dirs left behind
  }, 180_000);

  test("runc is a bare executable like upstream's runc.amd64", async () => {
    const entry = await atCandidate(debian12.files.files.find((f) => f.name === "runc.amd64")!);
    await packFromDebs(entry, files);
    expect(statSync(join(files, "runc.amd64")).mode & 0o777).toBe(0o755);
    expect(await sh([join(files, "runc.amd64"), "--version"])).toMatch(/^runc version 1\.1\.\d+/);
  }, 180_000);

  test("a second bundle takes the same recipe's packing from the cache: the same bytes, the same mode; another recipe is packed anew", async () => {
    const entry = await atCandidate(debian12.files.files.find((f) => f.name === "runc.amd64")!);
    const cache = join(work, "pack-cache");
    const [a, b, c] = ["bundle-a", "bundle-b", "bundle-c"].map((d) => join(work, d));
    for (const d of [a, b, c]) mkdirSync(d, { recursive: true });
    expect(await packFromDebsCached(entry, a, cache)).toBe(false);
    expect(await packFromDebsCached(entry, b, cache)).toBe(true);
    expect(readFileSync(join(b, entry.name)).equals(readFileSync(join(a, entry.name)))).toBe(true);
    expect(statSync(join(b, entry.name)).mode & 0o777).toBe(0o755);
    // Another recipe (here: another member path) is another key, packed from the debs again.
    const other = { ...entry, pack: { ...entry.pack!, file: `./${entry.pack!.file!.replace(/^\.\//, "")}` } };
    expect(await packFromDebsCached(other, c, cache)).toBe(false);
  }, 180_000);

  test("docker is packed in the static tarball's layout (the seed's), and the packed dockerd and docker run", async () => {
    const entry = await atCandidate(debian12.files.files.find((f) => /^docker-20\.10\.\d+\.tgz$/.test(f.name))!);
    await packFromDebs(entry, files);
    const names = (await sh(["tar", "-tzf", join(files, entry.name)])).trim().split("\n");
    expect(names.sort()).toEqual(["docker/", ...["containerd", "containerd-shim", "containerd-shim-runc-v2", "ctr", "docker", "docker-init", "docker-proxy", "dockerd", "runc"].map((b) => `docker/${b}`)]);
    const out = join(work, "d");
    mkdirSync(out);
    await sh(["tar", "-xzf", join(files, entry.name), "-C", out]);
    // docker-init is a real file (tini-static), not the symlink Debian ships.
    expect(statSync(join(out, "docker/docker-init")).size).toBeGreaterThan(100_000);
    expect(await sh([join(out, "docker/dockerd"), "--version"])).toMatch(/^Docker version 20\.10\.\d+/);
    expect(await sh([join(out, "docker/docker"), "--version"])).toMatch(/^Docker version 20\.10\.\d+/);
    expect(await sh([join(out, "docker/runc"), "--version"])).toMatch(/^runc version 1\.1\.\d+/);
    // The name carries the version the lock records: the same upstream version the deb packs.
    expect(entry.name).toBe(`docker-${entry.pack!.debs[0]!.split("=")[1]!.split("+")[0]}.tgz`);
  }, 300_000);

  test("the Kubernetes stand-in is stored once and extracts as kubeadm, kubelet and kubectl", async () => {
    const bin = join(work, "standin");
    writeFileSync(bin, `#!/bin/sh\necho "stand-in as $(basename "$0")"\n${"#".repeat(100_000)}\n`, { mode: 0o755 });
    const entry = debian12.files.files.find((f) => f.standin)!;
    await packStandin(entry, files, bin);
    const tarSize = (await sh(["sh", "-c", `gzip -dc ${join(files, entry.name)} | wc -c`])).trim();
    expect(Number(tarSize)).toBeLessThan(2 * 100_000); // one copy, not three
    const out = join(work, "k");
    mkdirSync(out);
    await sh(["tar", "-xzf", join(files, entry.name), "-C", out]);
    for (const name of ["kubeadm", "kubelet", "kubectl"]) {
      expect((await sh([join(out, "kubernetes/node/bin", name)])).trim()).toBe(`stand-in as ${name}`);
    }
  });
});
