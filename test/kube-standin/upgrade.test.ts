// kubeadm's upgrade contract in the stand-in: a 1.22.2 control plane made by init, then a 1.23.17
// build's `upgrade plan/apply/node` against a real etcd and a real registry. Refusals first (each
// changes nothing), then the upgrade and what it bumped. Uses etcd 5311/5312, registry 5313, 127.0.0.41:5347.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { buildStandin, pushImage, startEtcd, startRegistry, teardown, externalEtcd, TestNode, tmpdir } from "./harness.ts";
import { etcdProblem, versionProblem } from "./kubeadm/upgrade.ts";
import { parseVersion } from "./lib/versions.ts";
import { spkiPin } from "./lib/pki.ts";

setDefaultTimeout(180_000);
const v = (s: string) => parseVersion(s);

describe("version rules (kubeadm's versionSkewPolicy)", () => {
  test("one minor step up, or the same version, passes", () => {
    expect(versionProblem(v("1.22.2"), v("1.23.17"), v("1.23.17"))).toBeNull();
    expect(versionProblem(v("1.23.17"), v("1.23.17"), v("1.23.17"))).toBeNull();
  });
  test("a skipped minor, a downgrade, a target other than kubeadm's own version are refused", () => {
    expect(versionProblem(v("1.22.2"), v("1.24.0"), v("1.24.0"))).toContain("kubeadm can upgrade only 1 minor version at a time");
    expect(versionProblem(v("1.23.17"), v("1.22.2"), v("1.22.2"))).toContain("Downgrades are not supported yet");
    expect(versionProblem(v("1.22.2"), v("1.24.0"), v("1.23.17"))).toContain('is higher than the kubeadm version "v1.23.17". Upgrade kubeadm first');
  });
  test("external etcd below kubeadm's minimum is refused, at or above it passes", () => {
    expect(etcdProblem("3.4.3")).toContain("only supports external etcd version >= 3.4.13");
    expect(etcdProblem("3.4.23")).toBeNull();
    expect(etcdProblem("3.5.1")).toBeNull();
  });
});

const ADDR = "127.0.0.41", PORT = 5347;
const dir = tmpdir("kube-standin-upgrade-");
let old: TestNode, neu: TestNode, wOld: TestNode, wNew: TestNode;
let etcdBlock = "";
let etcd: Awaited<ReturnType<typeof startEtcd>>, registry: Awaited<ReturnType<typeof startRegistry>>;
const images = (ver: string, pause: string, coredns: string) =>
  [`kube-apiserver:${ver}`, `kube-controller-manager:${ver}`, `kube-scheduler:${ver}`, `kube-proxy:${ver}`, `pause:${pause}`, `coredns:${coredns}`];
const lastKubeadm = (n: TestNode) => n.records().filter((r) => r.tool === "kubeadm").at(-1);
const ADMIN = ["--kubeconfig", "/etc/kubernetes/admin.conf"];

beforeAll(async () => {
  const bin = (name: string, version: string) => {
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    return buildStandin(path.join(dir, name), version);
  };
  const [b22, b23] = [bin("bin22", "v1.22.2"), bin("bin23", "v1.23.17")];
  etcd = await startEtcd(path.join(dir, "etcd"), 5311, 5312);
  registry = await startRegistry(path.join(dir, "registry"), 5313);
  for (const i of images("v1.22.2", "3.5", "v1.8.4")) await pushImage(registry, `${registry.host}/k8s/${i}`);
  // Two views of one node: the same root, the kubeadm of each bundle.
  old = new TestNode("cpup", path.join(dir, "root"), b22);
  neu = new TestNode("cpup", path.join(dir, "root"), b23, false);
  old.write("/etc/k8s-ha-offline/depot-ca.crt", registry.ca);
  etcdBlock = externalEtcd(old, etcd);
  old.write("/root/init.yaml", `apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
bootstrapTokens:
- token: abcdef.0123456789abcdef
localAPIEndpoint:
  advertiseAddress: ${ADDR}
  bindPort: ${PORT}
nodeRegistration:
  name: cpup
  criSocket: unix:///run/containerd/containerd.sock
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.22.2
controlPlaneEndpoint: ${ADDR}:${PORT}
imageRepository: ${registry.host}/k8s
apiServer:
  extraArgs:
    event-ttl: 2h0m0s
${etcdBlock}`);
  const r = await old.run("kubeadm", ["init", "--config", "/root/init.yaml"]);
  if (r.code !== 0) console.error(r.out);
  expect(r.code).toBe(0);
  // A worker, joined with the 1.22 kubeadm; its 1.23 kubeadm comes with the upgrade.
  wOld = new TestNode("wkup", path.join(dir, "worker"), b22);
  wNew = new TestNode("wkup", path.join(dir, "worker"), b23, false);
  wOld.write("/etc/k8s-ha-offline/depot-ca.crt", registry.ca);
  const hash = spkiPin(old.read("/etc/kubernetes/pki/ca.crt"));
  const j = await wOld.run("kubeadm", ["join", `${ADDR}:${PORT}`, "--token", "abcdef.0123456789abcdef", "--discovery-token-ca-cert-hash", hash, "--cri-socket", "unix:///run/containerd/containerd.sock"]);
  if (j.code !== 0) console.error(j.out);
  expect(j.code).toBe(0);
}, 240_000);

afterAll(() => teardown(dir, [old, wOld], [etcd?.proc, registry?.proc]));

const manifestImage = (n: TestNode) => YAML.parse(n.read("/etc/kubernetes/manifests/kube-apiserver.yaml")).spec.containers[0].image as string;
const clusterVersion = async (n: TestNode) =>
  YAML.parse(JSON.parse((await n.run("kubectl", [...ADMIN, "get", "cm", "kubeadm-config", "-n", "kube-system", "-o", "json"])).stdout).data.ClusterConfiguration).kubernetesVersion;

describe("refusals change nothing", () => {
  test("upgrade node before the control plane was upgraded, on a control plane and on a worker", async () => {
    for (const n of [neu, wNew]) {
      const r = await n.run("kubeadm", ["upgrade", "node"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('run "kubeadm upgrade apply v1.23.17" on the first control-plane node before "kubeadm upgrade node"');
    }
    expect(wOld.read("/var/lib/kubelet/kubeadm-flags.env")).toContain("pause:3.5");
  });
  test("a skipped minor, a downgrade, a target other than kubeadm's version, no --yes", async () => {
    expect((await neu.run("kubeadm", ["upgrade", "apply", "v1.24.0", "--yes"])).stderr).toContain('is higher than the kubeadm version "v1.23.17"');
    expect((await old.run("kubeadm", ["upgrade", "apply", "v1.22.1", "--yes"])).stderr).toContain("lower than the kubeadm version");
    expect((await neu.run("kubeadm", ["upgrade", "apply", "v1.23.17"])).stderr).toContain("pass --yes");
    expect(await clusterVersion(old)).toBe("v1.22.2");
  });
  test("the target's images missing from the imageRepository", async () => {
    const r = await neu.run("kubeadm", ["upgrade", "apply", "v1.23.17", "--yes"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("[ERROR ImagePull]");
    expect(r.stderr).toContain(`${registry.host}/k8s/kube-apiserver:v1.23.17`);
    expect(manifestImage(old)).toEndWith(":v1.22.2");
    expect(await clusterVersion(old)).toBe("v1.22.2");
    expect(lastKubeadm(neu)).toMatchObject({ tool: "kubeadm", outcome: "error" });
  });
});

describe("the upgrade", () => {
  test("plan names the target, the external etcd and every kubelet", async () => {
    for (const i of images("v1.23.17", "3.6", "v1.8.6")) await pushImage(registry, `${registry.host}/k8s/${i}`);
    const r = await neu.run("kubeadm", ["upgrade", "plan"]);
    if (r.code !== 0) console.error(r.out);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("kubeadm upgrade apply v1.23.17");
    expect(r.stdout).toMatch(/etcd\s+3\.\d+\.\d+\s+3\.5\.1-0/);
    expect(r.stdout).toMatch(/kubelet\s+cpup v1\.22\.2\s+v1\.23\.17/);
    expect(r.stdout).toMatch(/kubelet\s+wkup v1\.22\.2\s+v1\.23\.17/);
  });
  test("apply bumps the manifests, kubeadm-config, the kubelet config, and the apiserver's version follows", async () => {
    const before = old.read("/etc/kubernetes/pki/apiserver.crt");
    const r = await neu.run("kubeadm", ["upgrade", "apply", "v1.23.17", "--yes"]);
    if (r.code !== 0) console.error(r.out);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('SUCCESS! Your cluster was upgraded to "v1.23.17"');
    for (const c of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"])
      expect(YAML.parse(old.read(`/etc/kubernetes/manifests/${c}.yaml`)).spec.containers[0].image).toBe(`${registry.host}/k8s/${c}:v1.23.17`);
    // 1.23 drops --port=0 from the controller-manager; the user's extraArgs stay.
    expect(old.read("/etc/kubernetes/manifests/kube-controller-manager.yaml")).not.toContain("--port=0");
    expect(old.read("/etc/kubernetes/manifests/kube-apiserver.yaml")).toContain("--event-ttl=2h0m0s");
    expect(await clusterVersion(old)).toBe("v1.23.17");
    expect(old.read("/var/lib/kubelet/kubeadm-flags.env")).toContain(`--pod-infra-container-image=${registry.host}/k8s/pause:3.6`);
    expect(old.read("/etc/kubernetes/pki/apiserver.crt")).not.toBe(before); // kubeadm renews certificates on upgrade
    expect((await old.run("kubectl", [...ADMIN, "version"])).stdout).toContain("Server Version: v1.23.17");
    const rec = lastKubeadm(neu)!;
    expect(rec).toMatchObject({ tool: "kubeadm", outcome: "ok", command: "upgrade apply", from: "v1.22.2", to: "v1.23.17", nodeName: "cpup", certificatesRenewed: true });
    const cms = JSON.parse((await old.run("kubectl", [...ADMIN, "get", "cm", "-n", "kube-system", "-o", "json"])).stdout).items.map((x: any) => x.metadata.name);
    expect(cms).toContain("kubelet-config-1.23");
  });
  test("drain cordons, uncordon undoes it, get nodes shows the kubelet's version", async () => {
    expect((await old.run("kubectl", [...ADMIN, "drain", "cpup", "--ignore-daemonsets"])).code).toBe(0);
    expect((await old.run("kubectl", [...ADMIN, "get", "nodes"])).stdout).toContain("SchedulingDisabled");
    expect((await old.run("kubectl", [...ADMIN, "uncordon", "cpup"])).code).toBe(0);
    const out = (await old.run("kubectl", [...ADMIN, "get", "nodes"])).stdout;
    expect(out).not.toContain("SchedulingDisabled");
    expect(out).toMatch(/cpup\s+\S+\s+\S+\s+\S+\s+v1\.22\.2/); // the kubelet process is not restarted by kubeadm
  });
  test("a second apply of the same version is accepted; a downgrade now is refused", async () => {
    const down = await old.run("kubeadm", ["upgrade", "apply", "v1.22.2", "--yes"]);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toContain("Downgrades are not supported yet");
    const node = await neu.run("kubeadm", ["upgrade", "node"]);
    if (node.code !== 0) console.error(node.out);
    expect(node.code).toBe(0);
    expect(lastKubeadm(neu)).toMatchObject({ command: "upgrade node", controlPlane: true, version: "v1.23.17" });
  });
});

test("the worker after its control plane: upgrade node writes the 1.23 kubelet configuration, recorded as a worker's", async () => {
  // The control plane's kubelet reports its new static pods with its next heartbeat (every 10 s).
  for (let i = 0; i < 30; i++) {
    const cp = JSON.parse((await old.run("kubectl", [...ADMIN, "get", "nodes", "-o", "json"])).stdout).items.find((n: any) => n.metadata.name === "cpup");
    if (cp.status.standin.staticPods.some((p: any) => p.image.endsWith(":v1.23.17"))) break;
    await Bun.sleep(1000);
  }
  const r = await wNew.run("kubeadm", ["upgrade", "node"]);
  if (r.code !== 0) console.error(r.out);
  expect(r.code).toBe(0);
  expect(wOld.read("/var/lib/kubelet/kubeadm-flags.env")).toContain(`--pod-infra-container-image=${registry.host}/k8s/pause:3.6`);
  expect(lastKubeadm(wNew)).toMatchObject({ command: "upgrade node", nodeName: "wkup", controlPlane: false, version: "v1.23.17", outcome: "ok" });
});
