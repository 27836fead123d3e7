// The version is baked at build time: a 1.31 build speaks v1beta4, lists 1.31's images, and its
// init writes 1.31's layout (no --port=0, admin.conf bound to kubeadm:cluster-admins, super-admin.conf).
import { afterAll, beforeAll, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { buildStandin, pushImage, startEtcd, startRegistry, teardown, externalEtcd, TestNode, tmpdir } from "./harness.ts";
import { certFacts } from "./lib/pki.ts";
import { clientFromKubeconfig } from "./lib/kubeconfig.ts";

const dir = tmpdir("kube-standin-131-");
let bin: string, n: TestNode;
let etcdBlock = "";
let etcd: Awaited<ReturnType<typeof startEtcd>>, registry: Awaited<ReturnType<typeof startRegistry>>;
const IMAGES = ["kube-apiserver:v1.31.0", "kube-controller-manager:v1.31.0", "kube-scheduler:v1.31.0", "kube-proxy:v1.31.0", "pause:3.10", "coredns:v1.11.3"];

beforeAll(async () => {
  bin = buildStandin(fs.mkdirSync(path.join(dir, "bin"), { recursive: true }) ?? path.join(dir, "bin"), "v1.31.0");
  etcd = await startEtcd(path.join(dir, "etcd"), 5321, 5322);
  registry = await startRegistry(path.join(dir, "registry"), 5323);
  for (const i of IMAGES) await pushImage(registry, `${registry.host}/k8s/${i}`);
  n = new TestNode("cp131", path.join(dir, "root"), bin);
  n.write("/etc/k8s-ha-offline/depot-ca.crt", registry.ca); // what the trust phase puts on every node
  etcdBlock = externalEtcd(n, etcd);
}, 120_000);

afterAll(() => teardown(dir, [n], [etcd?.proc, registry?.proc]));

test("version and default image list of a 1.31 build", async () => {
  expect((await n.run("kubeadm", ["version", "-o", "short"])).stdout.trim()).toBe("v1.31.0");
  const list = await n.run("kubeadm", ["config", "images", "list"]);
  expect(list.stdout).toContain("registry.k8s.io/pause:3.10\n");
  expect(list.stdout).toContain("registry.k8s.io/coredns/coredns:v1.11.3\n");
});

test("v1beta3 is refused by a 1.31 build", async () => {
  n.write("/c.yaml", "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: v1.31.0\n");
  const old = await n.run("kubeadm", ["config", "images", "list", "--config", "/c.yaml"]);
  expect(old.code).not.toBe(0);
  expect(old.stderr).toContain('deprecated API spec: "kubeadm.k8s.io/v1beta3"');
});

test("init with a v1beta4 configuration", async () => {
  n.write("/root/init.yaml", `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
- token: abcdef.0123456789abcdef
  ttl: 24h0m0s
localAPIEndpoint:
  advertiseAddress: 127.0.0.31
  bindPort: 5345
nodeRegistration:
  name: cp131
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
  - name: node-ip
    value: 127.0.0.31
timeouts:
  controlPlaneComponentHealthCheck: 2m0s
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.31.0
controlPlaneEndpoint: 127.0.0.31:5345
imageRepository: ${registry.host}/k8s
apiServer:
  extraArgs:
  - name: event-ttl
    value: 2h0m0s
${etcdBlock}networking:
  podSubnet: 10.244.0.0/16
`);
  const r = await n.run("kubeadm", ["init", "--config", "/root/init.yaml", "--upload-certs", "--certificate-key", "ab".repeat(32)]);
  if (r.code !== 0) console.error(r.out);
  expect(r.code).toBe(0);
  expect(n.read("/var/lib/kubelet/kubeadm-flags.env")).toContain("--node-ip=127.0.0.31");
  const sched = n.read("/etc/kubernetes/manifests/kube-scheduler.yaml");
  expect(sched).not.toContain("--port=0");
  expect(n.read("/etc/kubernetes/manifests/kube-apiserver.yaml")).toContain("--event-ttl=2h0m0s");
  expect(n.read("/etc/kubernetes/manifests/kube-apiserver.yaml")).not.toContain("--insecure-port");
  const admin = clientFromKubeconfig(n.read("/etc/kubernetes/admin.conf"), "admin.conf");
  expect(certFacts(admin.cert!).orgs).toEqual(["kubeadm:cluster-admins"]);
  expect(certFacts(clientFromKubeconfig(n.read("/etc/kubernetes/super-admin.conf"), "super-admin.conf").cert!).orgs).toEqual(["system:masters"]);
  expect(r.stdout).toContain("[mark-control-plane] Marking the node cp131 as control-plane by adding the taints [node-role.kubernetes.io/control-plane:NoSchedule]");
  const nodes = JSON.parse((await n.run("kubectl", ["--kubeconfig", "/etc/kubernetes/admin.conf", "get", "nodes", "-o", "json"])).stdout);
  expect(nodes.items[0].status.nodeInfo.kubeletVersion).toBe("v1.31.0");
  const reset = await n.run("kubeadm", ["reset", "-f"]);
  expect(reset.code).toBe(0);
  expect(fs.existsSync(n.path("/etc/kubernetes/super-admin.conf"))).toBe(false);
}, 120_000);
