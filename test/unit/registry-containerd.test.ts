// containerd (Debian package) pulls upstream image names through a hosts.toml mirror that points
// at the depot over TLS, verified against the depot CA — the way every node of the cluster gets its
// images (the hosts.toml is the installer's own, from src/depot/node-config.ts). A private containerd runs with
// its own root, state and socket in a temp dir, and is stopped afterwards.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDepotServer, type DepotServer } from "../../src/depot/server.ts";
import { collectingLogger, writeFixtureBundle, type BuiltImage } from "./support/oci-fixture.ts";
import { startContainerd, type PrivateContainerd } from "./support/containerd.ts";
import { renderContainerdHostsToml } from "../../src/depot/node-config.ts";
import { depotTls } from "./support/depot-tls.ts";

const PORT = 5130;
const MIRROR = `https://127.0.0.1:${PORT}`;
let dir: string;
let depot: DepotServer;
let images: BuiltImage[];
let containerd: PrivateContainerd;
const log = collectingLogger();

const ctr = (...args: string[]) => containerd.ctr(...args);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "registry-containerd-"));
  images = await writeFixtureBundle(join(dir, "bundle"));
  const [pki, other] = await Promise.all([depotTls(), depotTls()]);
  writeFileSync(join(dir, "depot-ca.crt"), pki.caPem);
  writeFileSync(join(dir, "other-ca.crt"), other.caPem);
  // The tests read what containerd asked for in the access lines of answered requests (debug by default).
  depot = await startDepotServer({ bundleDir: join(dir, "bundle"), listen: { address: "127.0.0.1", port: PORT }, log, tls: pki.tls, accessLog: "info" });
  // certs.d trusts the depot CA; certs.d-other trusts another CA (an impostor's view, or a node that lost its CA).
  for (const [hostsDir, ca] of [[join(dir, "certs.d"), "depot-ca.crt"], [join(dir, "certs.d-other"), "other-ca.crt"]] as const) {
    for (const registry of ["registry.k8s.io", "docker.io"]) {
      mkdirSync(join(hostsDir, registry), { recursive: true });
      writeFileSync(join(hostsDir, registry, "hosts.toml"), renderContainerdHostsToml(registry, [MIRROR], join(dir, ca)));
    }
  }
  containerd = await startContainerd(dir, { hostsDir: join(dir, "certs.d") });
});

afterAll(async () => {
  await containerd?.stop();
  await depot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("containerd through a hosts.toml mirror", () => {
  test("pulls and unpacks upstream names from the depot", async () => {
    for (const ref of ["registry.k8s.io/pause:3.5", "registry.k8s.io/kube-apiserver:v1.22.2", "docker.io/flannel/flannel:v0.22.0"]) {
      const r = await ctr("images", "pull", "--hosts-dir", join(dir, "certs.d"), "--snapshotter", "native", ref);
      expect({ ref, code: r.code, out: r.code === 0 ? "" : r.out }).toEqual({ ref, code: 0, out: "" });
      const listed = await ctr("images", "ls", `name==${ref}`);
      const built = images.find((i) => i.ref === ref)!;
      expect(listed.out).toContain(built.digest);
    }
    // The mirror, not upstream, answered: the depot logged the pulls under the upstream path.
    expect(log.lines.some((l) => / HEAD \/v2\/pause\/manifests\/3\.5\?ns=registry\.k8s\.io 200 /.test(l))).toBe(true);
    expect(log.lines.some((l) => / GET \/v2\/flannel\/flannel\/blobs\/sha256:[a-f0-9]{64}\?ns=docker\.io 200 /.test(l))).toBe(true);
  }, 120_000);

  test("refuses the depot when its certificate is not signed by the CA in hosts.toml, and never falls back to upstream", async () => {
    const r = await ctr("images", "pull", "--hosts-dir", join(dir, "certs.d-other"), "--snapshotter", "native", "registry.k8s.io/coredns/coredns:v1.8.4");
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/x509|certificate/);
  }, 60_000);
});

describe("containerd with several depots (issue 16: every master runs one)", () => {
  test("master1's depot stopped: the image named after master1's depot, and an upstream name, come from master2's depot", async () => {
    // The hosts.toml every node gets: master1's depot first (depot.address), then master2's. master1's was
    // started and stopped, so nothing listens at its address: containerd must move on to the next [host].
    const pki = await depotTls();
    const first = await startDepotServer({ bundleDir: join(dir, "bundle"), listen: { address: "127.0.0.1", port: PORT + 1 }, log: collectingLogger(), tls: pki.tls });
    await first.stop();
    const log2 = collectingLogger();
    const second = await startDepotServer({ bundleDir: join(dir, "bundle"), listen: { address: "127.0.0.2", port: PORT + 2 }, log: log2, tls: pki.tls, accessLog: "info" });
    try {
      writeFileSync(join(dir, "depot-ca-2.crt"), pki.caPem);
      const hostsDir = join(dir, "certs.d-two");
      const master1Registry = `127.0.0.1:${PORT + 1}`;
      for (const registry of ["registry.k8s.io", master1Registry]) {
        mkdirSync(join(hostsDir, registry), { recursive: true });
        writeFileSync(join(hostsDir, registry, "hosts.toml"), renderContainerdHostsToml(registry, [first.url, second.url], join(dir, "depot-ca-2.crt")));
      }
      const pause = images.find((i) => i.ref === "registry.k8s.io/pause:3.5")!;
      // kubeadm's name for it, pinned by digest as the installer pulls it (src/cluster/images.ts).
      for (const ref of [`${master1Registry}/google_containers/pause@${pause.digest}`, "registry.k8s.io/kube-apiserver:v1.22.2"]) {
        await ctr("images", "rm", ref).catch(() => undefined);
        const r = await ctr("images", "pull", "--hosts-dir", hostsDir, "--snapshotter", "native", ref);
        expect({ ref, code: r.code, out: r.code === 0 ? "" : r.out }).toEqual({ ref, code: 0, out: "" });
      }
      // master2's depot served both; its log shows it.
      expect(log2.lines.some((l) => /^depot: 127\.0\.0\.1 (GET|HEAD) \/v2\/google_containers\/pause\/manifests\/sha256:[a-f0-9]{64}\?ns=127\.0\.0\.1(%3A|:)\d+ 200 /.test(l))).toBe(true);
      expect(log2.lines.some((l) => / (GET|HEAD) \/v2\/kube-apiserver\/manifests\/v1\.22\.2\?ns=registry\.k8s\.io 200 /.test(l))).toBe(true);
    } finally {
      await second.stop();
    }
  }, 120_000);
});
