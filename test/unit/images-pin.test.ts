// Pinned images (issue 15): a node's containerd pulls every image by the bundle lock's digest from the
// real depot server and names it the way kubeadm and the kubelet ask for it; a registry that answers
// with another manifest (an impostor at the depot's address) gets nothing into the store. A private
// containerd runs with its own root, state and socket in a temp dir (support/containerd.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDepotServer, type DepotServer } from "../../src/depot/server.ts";
import type { BundleLock } from "../../src/depot/lock.ts";
import type { HostSpec } from "../../src/config/types.ts";
import { LocalHost } from "../../src/hosts/local.ts";
import { depotImageByDigest, nodeImages, pinImages, unpinnedImages, type PinnedImage, type RuntimeAccess } from "../../src/cluster/images.ts";
import { collectingLogger, writeOciArchive, type BuiltImage } from "./support/oci-fixture.ts";
import { startContainerd, type PrivateContainerd } from "./support/containerd.ts";

const DEPOT_PORT = 5137;
const HOSTILE_PORT = 5138;
const DEPOT = `127.0.0.1:${DEPOT_PORT}`;
const HOSTILE = `127.0.0.1:${HOSTILE_PORT}`;
let dir: string;
let depot: DepotServer;
let hostile: ReturnType<typeof Bun.serve>;
let containerd: PrivateContainerd;
let built: BuiltImage[];
let lock: BundleLock;
const host = new LocalHost({ name: "node1" });
const worker: HostSpec = { name: "node1", address: "127.0.0.1", roles: ["worker"] } as HostSpec;
const access = (registry: string): RuntimeAccess => ({
  runtime: "containerd",
  ctr: "ctr",
  address: containerd.socket,
  hostsDir: join(dir, "certs.d"),
  snapshotter: "native",
  root: join(dir, "root"),
  depotUrl: `http://${registry}`,
});

const ctr = (...args: string[]) => containerd.ctr(...args);
const storeNames = async () => (await ctr("images", "ls", "-q")).out.trim().split("\n").filter(Boolean);
const storeListing = async () => (await ctr("images", "ls")).out;
const digestOf = (ref: string) => built.find((b) => b.ref === ref)!.digest;

/**
 * An impostor at another address: it proxies the real depot (so it serves the real bundle) but answers
 * every manifest request of one repository with the manifest of `evil`; `lie` also claims the requested
 * digest in Docker-Content-Digest, as a careful impostor would.
 */
let hostileMode: { repo: string; lie: boolean; byDigestToo: boolean } | null = null;
async function hostileFetch(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
  if (m && hostileMode && m[1] === hostileMode.repo && (hostileMode.byDigestToo || !m[2]!.startsWith("sha256:"))) {
    const evil = await fetch(`http://${DEPOT}/v2/registry/evil/manifests/1.0`, { headers: { Accept: req.headers.get("Accept") ?? "*/*" } });
    const bytes = new Uint8Array(await evil.arrayBuffer());
    const digest = hostileMode.lie && m[2]!.startsWith("sha256:") ? m[2]! : evil.headers.get("Docker-Content-Digest")!;
    const headers = { "Content-Type": evil.headers.get("Content-Type")!, "Docker-Content-Digest": digest, "Content-Length": String(bytes.length) };
    return new Response(req.method === "HEAD" ? null : bytes, { status: 200, headers });
  }
  const forward = (path: string) => fetch(`http://${DEPOT}${path}${url.search}`, { method: req.method, headers: req.headers });
  let res = await forward(url.pathname);
  // The evil image's blobs, asked for under the attacked repository's name.
  const blob = /^\/v2\/.+\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
  if (res.status === 404 && blob) res = await forward(`/v2/registry/evil/blobs/${blob[1]}`);
  return new Response(req.method === "HEAD" ? null : res.body, { status: res.status, headers: res.headers });
}

function hostsToml(registry: string): void {
  mkdirSync(join(dir, "certs.d", registry), { recursive: true });
  writeFileSync(join(dir, "certs.d", registry, "hosts.toml"), `server = "http://${registry}"\n\n[host."http://${registry}"]\n  capabilities = ["pull", "resolve"]\n`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "images-pin-"));
  const bundle = join(dir, "bundle");
  mkdirSync(join(bundle, "images"), { recursive: true });
  built = [];
  const images: [string, string[], "oci" | "docker"][] = [
    ["registry.k8s.io/pause:3.5", ["linux/amd64"], "oci"],
    ["registry.k8s.io/kube-proxy:v1.22.2", ["linux/amd64", "linux/arm64"], "oci"],
    ["registry.k8s.io/coredns/coredns:v1.8.4", ["linux/amd64", "linux/arm64"], "docker"],
    ["docker.io/flannel/flannel:v0.15.1", ["linux/amd64"], "docker"],
    // What the impostor serves instead: an image of its own, also a "real" one.
    ["docker.io/registry/evil:1.0", ["linux/amd64", "linux/arm64"], "oci"],
  ];
  for (const [ref, platforms, flavour] of images) {
    const file = join(bundle, "images", `${ref.split("/").pop()!.replace(":", "-")}.tar`);
    built.push(...(await writeOciArchive(file, [{ ref, platforms, flavour }])));
  }
  lock = {
    profile: "debian12",
    kubernetesVersion: "1.22.2",
    created: new Date(0).toISOString(),
    files: [],
    images: built.map((b) => ({ ref: b.ref, digest: b.digest, file: `images/${b.ref.split("/").pop()!.replace(":", "-")}.tar` })),
  };
  depot = await startDepotServer({ bundleDir: bundle, listen: { address: "127.0.0.1", port: DEPOT_PORT }, log: collectingLogger(), accessLog: "off" });
  hostile = Bun.serve({ hostname: "127.0.0.1", port: HOSTILE_PORT, fetch: hostileFetch });
  hostsToml(DEPOT);
  hostsToml(HOSTILE);
  containerd = await startContainerd(dir);
});

afterAll(async () => {
  await containerd?.stop();
  hostile?.stop(true);
  await depot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("pinning to the bundle lock", () => {
  // First, while the store is empty: containerd does not fetch content it already holds (it is
  // content-addressed), so a digest pinned earlier could not be tampered with anyway.
  // coredns is a Docker manifest list, the impostor's image an OCI index (containerd refuses the media type);
  // kube-proxy an OCI index like it (containerd refuses the content's digest).
  for (const [component, lie] of [["coredns", false], ["kube-proxy", false], ["kube-proxy", true]] as const)
    test(`a registry that serves another manifest for ${component}'s digest (${lie ? "claiming the asked digest" : "under its own digest"}) is refused; nothing lands under the pinned name`, async () => {
      hostileMode = { repo: `google_containers/${component}`, lie, byDigestToo: true };
      const [im] = nodeImages(lock, HOSTILE, worker).filter((i) => i.name.includes(`/${component}:`));
      const before = await storeNames();
      const err = await pinImages(host, [im!], access(HOSTILE)).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.name).toBe("InstallError");
      expect(err?.message).toContain(`image ${im!.ref} from the depot does not match the bundle lock (${im!.digest}): the depot at http://${HOSTILE} may not be ours`);
      expect(err?.message).not.toContain("\n    at ");
      const after = await storeNames();
      expect(after.filter((n) => n.startsWith(`${HOSTILE}/google_containers/${component}`))).toEqual([]);
      expect(after).toEqual(before);
      // Not even a failed download of it is left in containerd's ingest directory.
      const ingests = Bun.spawnSync(["sh", "-c", `cat ${dir}/root/io.containerd.content.v1.content/ingest/*/ref 2>/dev/null; true`]).stdout.toString();
      expect(ingests).not.toContain(im!.digest);
    }, 60_000);

  test("the real depot back at the same address right after a refusal: the same image pins (containerd's failed download is not resumed)", async () => {
    hostileMode = null;
    const [proxy] = nodeImages(lock, HOSTILE, worker).filter((i) => i.name.includes("/kube-proxy:"));
    expect(await pinImages(host, [proxy!], access(HOSTILE))).toEqual([proxy!]);
    expect((await storeListing()).split("\n").find((l) => l.startsWith(`${proxy!.name} `))).toContain(proxy!.digest);
  }, 60_000);

  test("a worker's images: pulled by digest from the depot, named as kubeadm and the kubelet look for them", async () => {
    const images = nodeImages(lock, DEPOT, worker);
    expect(images.map((i) => i.name).sort()).toEqual([
      `${DEPOT}/google_containers/coredns:v1.8.4`,
      `${DEPOT}/google_containers/kube-proxy:v1.22.2`,
      `${DEPOT}/google_containers/pause:3.5`,
    ]);
    expect(await unpinnedImages(host, images, access(DEPOT))).toEqual(images);
    expect(await pinImages(host, images, access(DEPOT))).toEqual(images);
    const listing = await storeListing();
    for (const im of images) {
      expect(im.byDigest).toBe(`${im.name.replace(/:[^:/]+$/, "")}@${digestOf(im.ref)}`);
      const line = listing.split("\n").find((l) => l.startsWith(`${im.name} `));
      expect(line).toContain(digestOf(im.ref));
    }
    // Nothing left to do: a second run fetches nothing.
    expect(await unpinnedImages(host, images, access(DEPOT))).toEqual([]);
    expect(await pinImages(host, images, access(DEPOT))).toEqual([]);
  }, 120_000);

  test("a name retagged to another image is put back on the locked digest", async () => {
    const [pause] = nodeImages(lock, DEPOT, worker).filter((i) => i.name.includes("/pause:"));
    const evil = depotImageByDigest(lock.images.find((i) => i.ref.includes("evil"))!, DEPOT);
    await pinImages(host, [evil], access(DEPOT));
    expect((await ctr("images", "tag", "--force", evil.byDigest, pause!.name)).code).toBe(0);
    expect(await unpinnedImages(host, [pause!], access(DEPOT))).toEqual([pause!]);
    expect(await pinImages(host, [pause!], access(DEPOT))).toEqual([pause!]);
    expect((await storeListing()).split("\n").find((l) => l.startsWith(`${pause!.name} `))).toContain(pause!.digest);
  }, 60_000);

  test("an impostor that serves the real bundle but retags an image: the pin by digest gets the real one, its image never lands", async () => {
    hostileMode = { repo: "google_containers/pause", lie: false, byDigestToo: false };
    const evilDigest = digestOf("docker.io/registry/evil:1.0");
    // The tag really does point elsewhere at the impostor (what a pull by tag would have stored).
    const head = await fetch(`http://${HOSTILE}/v2/google_containers/pause/manifests/3.5`, { method: "HEAD" });
    expect(head.headers.get("Docker-Content-Digest")).toBe(evilDigest);
    const [pause] = nodeImages(lock, HOSTILE, worker).filter((i) => i.name.includes("/pause:"));
    expect(await pinImages(host, [pause!], access(HOSTILE))).toEqual([pause!]);
    const listing = await storeListing();
    expect(listing.split("\n").find((l) => l.startsWith(`${pause!.name} `))).toContain(digestOf("registry.k8s.io/pause:3.5"));
    expect(listing.split("\n").filter((l) => l.startsWith(`${HOSTILE}/`) && l.includes(evilDigest))).toEqual([]);
  }, 60_000);

  test("a depot that does not answer: the error names the image, the pinned reference and the depot", async () => {
    const [pause] = nodeImages(lock, "127.0.0.1:5139", worker).filter((i) => i.name.includes("/pause:"));
    const err = await pinImages(host, [pause!], { ...access("127.0.0.1:5139"), hostsDir: join(dir, "none") }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toStartWith(`could not pull ${pause!.byDigest} (registry.k8s.io/pause:3.5, pinned by the bundle lock) from the depot at http://127.0.0.1:5139: `);
  }, 60_000);

  test("TLS configured but plain HTTP answers (an impostor without the depot's certificate): refused, naming the depot", async () => {
    const TLS = "127.0.0.1:5137"; // the depot here speaks plain HTTP
    mkdirSync(join(dir, "certs.tls", TLS), { recursive: true });
    writeFileSync(join(dir, "certs.tls", TLS, "hosts.toml"), `server = "https://${TLS}"\n\n[host."https://${TLS}"]\n  capabilities = ["pull", "resolve"]\n`);
    const flannel = depotImageByDigest(lock.images.find((i) => i.ref.includes("flannel"))!, TLS);
    const err = await pinImages(host, [flannel], { ...access(TLS), hostsDir: join(dir, "certs.tls"), depotUrl: `https://${TLS}` }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toStartWith(`the depot at https://${TLS} did not prove it is this cluster's depot while node1 pulled docker.io/flannel/flannel:v0.15.1 (`);
    expect(err?.message).toEndWith("check that master1's depot is running and that nothing else answers at its address");
    expect((await storeNames()).filter((n) => n.includes("/flannel/"))).toEqual([]);
  }, 60_000);

  test("the roles: a control plane also holds its static pods' images; an etcd-only node nothing; a missing kubeadm image is a bundle error", () => {
    const full: BundleLock = {
      ...lock,
      images: ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]
        .map((c) => ({ ref: `registry.k8s.io/${c}:v1.22.2`, digest: `sha256:${"a".repeat(64)}`, file: "images/x.tar" }))
        .concat(lock.images),
    };
    const cp = nodeImages(full, DEPOT, { ...worker, roles: ["control-plane", "etcd"] } as HostSpec).map((i) => i.name.split("/").pop());
    expect(cp).toEqual(["kube-apiserver:v1.22.2", "kube-controller-manager:v1.22.2", "kube-scheduler:v1.22.2", "pause:3.5", "kube-proxy:v1.22.2", "coredns:v1.8.4"]);
    expect(nodeImages(full, DEPOT, { ...worker, roles: ["etcd"] } as HostSpec)).toEqual([]);
    expect(() => nodeImages(lock, DEPOT, { ...worker, roles: ["control-plane"] } as HostSpec)).toThrow(/the debian12 bundle has no kube-apiserver image, which kubeadm needs; re-assemble the bundle/);
    const extra: PinnedImage = depotImageByDigest(lock.images.find((i) => i.ref.includes("flannel"))!, DEPOT);
    expect(extra.name).toBe(`${DEPOT}/flannel/flannel@${digestOf("docker.io/flannel/flannel:v0.15.1")}`);
  });
});
