// The committed manifests (rpms/<profile>.yaml, rpms/<profile>.files.yaml, images/<profile>.yaml) are
// complete and consistent, and a broken manifest is refused with the file and entry named.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imageArchiveName, loadManifests, REPO_ROOT } from "../../src/profiles/manifests.ts";
import { PROFILE_NAMES } from "../../src/profiles/index.ts";

const IMAGE_KINDS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "pause", "coredns", "flannel", "flannel-cni-plugin"];
const repoName = (ref: string) => ref.slice(ref.lastIndexOf("/") + 1).split(":")[0]!;

describe.each(PROFILE_NAMES.map((p) => [p]))("profile %s", (name) => {
  const p = loadManifests(name);

  test("has every control-plane, DNS and CNI image, tagged for its Kubernetes version, stored under distinct names", () => {
    const repos = p.images.images.map((i) => repoName(i.ref).replace(/^mirrored-flannelcni-/, ""));
    for (const kind of IMAGE_KINDS) expect(repos).toContain(kind);
    for (const i of p.images.images.filter((i) => repoName(i.ref).startsWith("kube-") && !i.ref.includes("/calico/"))) {
      expect(i.ref.endsWith(`:v${p.packages.kubernetesVersion}`)).toBe(true);
    }
    const archives = p.images.images.map((i) => imageArchiveName(i.ref));
    expect(new Set(archives).size).toBe(archives.length);
  });

  test("has a runtime, an etcd and a CNI payload, named like the upstream releases", () => {
    const roles = p.files.files.map((f) => f.role);
    for (const role of ["runtime", "etcd", "cni"] as const) expect(roles).toContain(role);
    const etcd = p.files.files.find((f) => f.role === "etcd")!;
    expect(etcd.name).toMatch(/^etcd-v[\d.]+-linux-amd64\.tar\.gz$/);
    expect(p.files.files.find((f) => f.role === "cni")!.name).toMatch(/^cni-plugins-linux-amd64-v[\d.]+\.tgz$/);
  });

  test("pins every wanted package, each file name unique", () => {
    const names = p.packages.packages.map((x) => x.name);
    for (const w of p.packages.wanted) expect(names).toContain(w);
    const files = p.packages.packages.map((x) => x.file);
    expect(new Set(files).size).toBe(files.length);
  });
});

describe("manifest checks", () => {
  test("debian12 is fully pinned: every deb has its size and sha256 from Debian's index", () => {
    const p = loadManifests("debian12");
    expect(p.packages.format).toBe("deb");
    for (const x of p.packages.packages) {
      expect(x.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(x.size).toBeGreaterThan(0);
    }
    expect(p.images.source).toBe("build");
  });

  test("the seed profile carries the versions of the reference deployment", () => {
    const p = loadManifests("el7-k8s1.22");
    const v = (n: string) => p.packages.packages.find((x) => x.name === n)!.version;
    expect(v("kubeadm")).toStartWith("1.22.2-");
    expect(v("haproxy")).toStartWith("1.5.18-9");
    expect(v("keepalived")).toStartWith("1.3.5-");
    expect(p.files.files.map((f) => f.name)).toEqual(expect.arrayContaining(["docker-20.10.5.tgz", "etcd-v3.4.9-linux-amd64.tar.gz"]));
    expect(p.images.images.map((i) => i.ref)).toEqual(expect.arrayContaining(["registry.k8s.io/pause:3.5", "registry.k8s.io/coredns/coredns:v1.8.4"]));
  });

  test("an unknown profile, a deb without a sum and a file with two sources are refused by name", () => {
    expect(() => loadManifests("el8")).toThrow(/unknown profile "el8"; known profiles: el7-k8s1.22, el9, debian12/);
    const root = mkdtempSync(join(tmpdir(), "bundle-profiles-"));
    for (const d of ["rpms", "images"]) mkdirSync(join(root, d));
    const copy = (rel: string, edit: (s: string) => string = (s) => s) => writeFileSync(join(root, rel), edit(readFileSync(join(REPO_ROOT, rel), "utf8")));
    copy("rpms/debian12.files.yaml");
    copy("images/debian12.yaml");
    copy("rpms/debian12.yaml", (s) => s.replace(/(name: haproxy\n(?:.*\n){4}    sha256: )[0-9a-f]{64}/, "$1unknown until assembled"));
    expect(() => loadManifests("debian12", root)).toThrow(/rpms\/debian12\.yaml: packages\[\d+\] \(haproxy\): sha256 must be 64 hex digits/);
    copy("rpms/debian12.yaml");
    copy("rpms/debian12.files.yaml", (s) => s.replace("    role: etcd\n", "    role: etcd\n    url: https://example.invalid/etcd.tgz\n"));
    expect(() => loadManifests("debian12", root)).toThrow(/debian12\.files\.yaml: files\[\d\] \(etcd-v3\.4\.23-linux-amd64\.tar\.gz\): exactly one of url, pack, standin/);
  });
});
