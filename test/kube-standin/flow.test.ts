// The stand-in's contract, proven against a real etcd (TLS, client certs) and a real registry on
// loopback: failures the real kubeadm would report, then init -> control-plane join -> worker join.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { NODE_DEPOT_CA } from "./lib/registry.ts";
import { buildStandin, pushImage, startEtcd, startRegistry, stopProc, TestNode, tmpdir } from "./harness.ts";
import { certFacts, signedBy, spkiPin } from "./lib/pki.ts";

const MASTER1 = "127.0.0.11", MASTER2 = "127.0.0.12", WORKER = "127.0.0.13";
const API_PORT = 5343;
const CPE = `${MASTER1}:${API_PORT}`; // in the lab this is the VIP behind haproxy
const REPO_PATH = "google_containers";
const CERT_KEY = "d14a06a73a7aabf5cce805880c085f7427247d507ba01bf2d2f21c294aeb8643";
const TOKEN = "abcdef.0123456789abcdef";

// Each stand-in run is a fresh process; RSA key generation dominates init and join.
setDefaultTimeout(120_000);

let dir: string, bin: string;
let etcd: Awaited<ReturnType<typeof startEtcd>>, registry: Awaited<ReturnType<typeof startRegistry>>;
const nodes: TestNode[] = [];
let m1: TestNode, m2: TestNode, w1: TestNode;

function node(name: string, withEtcdFiles = true) {
  const n = new TestNode(name, path.join(dir, "nodes", name), bin);
  nodes.push(n);
  // The installer's trust phase puts the depot CA on every node; image pulls verify the depot with it.
  n.write(NODE_DEPOT_CA, registry.ca);
  if (!withEtcdFiles) return n;
  // The installer distributes the etcd client files to every node (seed section 四).
  for (const [src, dst] of [[etcd.pki.ca, "ca.pem"], [etcd.pki.cert, "apiserver-etcd-client.pem"], [etcd.pki.key, "apiserver-etcd-client-key.pem"]])
    n.write(`/etc/kubernetes/pki/etcd/${dst}`, fs.readFileSync(src!, "utf8"));
  return n;
}

interface Opts { apiVersion?: string; repo?: string; etcdUrl?: string; extraCluster?: string; nodeName?: string; address?: string; ttl?: string }
function initConfig(o: Opts = {}) {
  const api = o.apiVersion ?? "kubeadm.k8s.io/v1beta3";
  return `apiVersion: ${api}
kind: InitConfiguration
bootstrapTokens:
- groups:
  - system:bootstrappers:kubeadm:default-node-token
  token: ${TOKEN}
  ttl: ${o.ttl ?? "24h0m0s"}
  usages: [signing, authentication]
localAPIEndpoint:
  advertiseAddress: ${o.address ?? MASTER1}
  bindPort: ${API_PORT}
nodeRegistration:
  criSocket: unix:///run/containerd/containerd.sock
  name: ${o.nodeName ?? "master1"}
  taints: null
---
apiVersion: ${api}
kind: ClusterConfiguration
controlPlaneEndpoint: "${CPE}"
apiServer:
  certSANs: [k8s-vip.example]
${o.extraCluster ?? ""}etcd:
  external:
    endpoints:
    - ${o.etcdUrl ?? etcd.url}
    caFile: /etc/kubernetes/pki/etcd/ca.pem
    certFile: /etc/kubernetes/pki/etcd/apiserver-etcd-client.pem
    keyFile: /etc/kubernetes/pki/etcd/apiserver-etcd-client-key.pem
imageRepository: ${o.repo ?? `${registry.host}/${REPO_PATH}`}
kubernetesVersion: 1.22.2
networking:
  dnsDomain: cluster.local
  podSubnet: "10.244.0.0/16"
  serviceSubnet: "10.96.0.0/12"
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
`;
}

const IMAGES = ["kube-apiserver:v1.22.2", "kube-controller-manager:v1.22.2", "kube-scheduler:v1.22.2", "kube-proxy:v1.22.2", "pause:3.5", "coredns:v1.8.4"];

async function init(n: TestNode, config: string, extra: string[] = []) {
  n.write("/root/kubeadm-init.yaml", config);
  return n.run("kubeadm", ["init", "--config", "/root/kubeadm-init.yaml", "--upload-certs", "--certificate-key", CERT_KEY, ...extra]);
}

const lastRecord = (n: TestNode) => n.records().at(-1);

beforeAll(async () => {
  dir = tmpdir("kube-standin-");
  bin = buildStandin(fs.mkdirSync(path.join(dir, "bin"), { recursive: true }) ?? path.join(dir, "bin"));
  etcd = await startEtcd(path.join(dir, "etcd"), 5301, 5302);
  registry = await startRegistry(path.join(dir, "registry"), 5303);
  for (const i of IMAGES) await pushImage(registry, `${registry.host}/${REPO_PATH}/${i}`);
  // A repository that lacks one image, to prove the pull check names it.
  for (const i of IMAGES.filter((x) => !x.startsWith("coredns"))) await pushImage(registry, `${registry.host}/incomplete/${i}`);
  m1 = node("master1");
  m2 = node("master2");
  w1 = node("node1");
}, 60_000);

afterAll(async () => {
  for (const n of nodes) n.stop();
  stopProc(etcd?.proc);
  stopProc(registry?.proc);
  await Bun.sleep(500);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("kubeadm basics", () => {
  test("version is the baked one and argv[0] picks the tool", async () => {
    const r = await m1.run("kubeadm", ["version", "-o", "short"]);
    expect(r.stdout.trim()).toBe("v1.22.2");
    expect(lastRecord(m1)).toMatchObject({ tool: "kubeadm", node: "master1", outcome: "ok", argv: ["version", "-o", "short"] });
  });

  test("config images list follows kubeadm's rules (custom repository: coredns without the coredns/ path, no etcd when external)", async () => {
    m1.write("/root/c.yaml", initConfig());
    const r = await m1.run("kubeadm", ["config", "images", "list", "--config", "/root/c.yaml"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(IMAGES.map((i) => `${registry.host}/${REPO_PATH}/${i}`));
  });

  test("config images pull fetches every manifest and names the missing one", async () => {
    m1.write("/root/c.yaml", initConfig());
    expect((await m1.run("kubeadm", ["config", "images", "pull", "--config", "/root/c.yaml"])).code).toBe(0);
    m1.write("/root/bad.yaml", initConfig({ repo: `${registry.host}/incomplete` }));
    const r = await m1.run("kubeadm", ["config", "images", "pull", "--config", "/root/bad.yaml"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`failed to pull image ${registry.host}/incomplete/coredns:v1.8.4`);
    expect(r.stderr).not.toContain("kube-proxy");
  });

  test("config images pull refuses a depot it cannot verify: no depot CA on the node, or another CA", async () => {
    const stranger = node("stranger", false);
    stranger.write("/root/c.yaml", initConfig());
    fs.rmSync(path.join(stranger.root, NODE_DEPOT_CA));
    const none = await stranger.run("kubeadm", ["config", "images", "pull", "--config", "/root/c.yaml"]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain(`failed to pull image ${registry.host}/${REPO_PATH}/`);
    stranger.write(NODE_DEPOT_CA, etcd.tls.ca); // a CA, but not the one that signed the depot's certificate
    const other = await stranger.run("kubeadm", ["config", "images", "pull", "--config", "/root/c.yaml"]);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain(`failed to pull image ${registry.host}/${REPO_PATH}/`);
  });
});

describe("kubeadm init refuses what real kubeadm refuses", () => {
  test("a misspelt field", async () => {
    const r = await init(m1, initConfig().replace("controlPlaneEndpoint:", "controlPlaneEndpiont:"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`Kind:"ClusterConfiguration"}`);
    expect(r.stderr).toContain(`unknown field "controlPlaneEndpiont"`);
    expect(lastRecord(m1)).toMatchObject({ tool: "kubeadm", outcome: "error" });
    expect(fs.existsSync(m1.path("/etc/kubernetes/pki/ca.crt"))).toBe(false);
  });

  test("a misspelt nested field names its path", async () => {
    const r = await init(m1, initConfig().replace("    certFile:", "    certfile:"));
    // kubeadm <= 1.23 words it as encoding/json did; the path is added by the stand-in.
    expect(r.stderr).toContain('json: unknown field "certfile" (at etcd.external.certfile)');
  });

  test("v1beta4 is not known to kubeadm 1.22", async () => {
    const r = await init(m1, initConfig({ apiVersion: "kubeadm.k8s.io/v1beta4" }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('no kind "InitConfiguration" is registered for version "kubeadm.k8s.io/v1beta4"');
  });

  test("v1beta2 is refused with the migrate advice", async () => {
    const r = await init(m1, initConfig({ apiVersion: "kubeadm.k8s.io/v1beta2" }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('uses a deprecated API spec: "kubeadm.k8s.io/v1beta2"');
    expect(r.stderr).toContain("kubeadm config migrate");
  });

  test("a malformed bootstrap token and a wrong type", async () => {
    let r = await init(m1, initConfig().replace(TOKEN, "ABCDEF.0123456789abcdef"));
    expect(r.stderr).toContain('bootstrapTokens[0].token: Invalid value: "ABCDEF.0123456789abcdef"');
    r = await init(m1, initConfig().replace(`bindPort: ${API_PORT}`, "bindPort: six"));
    expect(r.stderr).toContain("cannot unmarshal string into Go struct field InitConfiguration.localAPIEndpoint.bindPort of type int32");
  });

  test("a missing required field (external etcd endpoints)", async () => {
    const r = await init(m1, initConfig().replace(`    endpoints:\n    - ${etcd.url}\n`, ""));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("etcd.external.endpoints: Required value");
  });

  test("a certificate key that is not 64 hex characters", async () => {
    m1.write("/root/c.yaml", initConfig());
    const r = await m1.run("kubeadm", ["init", "--config", "/root/c.yaml", "--upload-certs", "--certificate-key", "1234"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--certificate-key: invalid certificate key: must be 64 hexadecimal characters");
    expect(JSON.stringify(lastRecord(m1))).not.toContain("1234");
  });

  test("an unreachable etcd fails preflight", async () => {
    const r = await init(m1, initConfig({ etcdUrl: "https://127.0.0.1:5399" }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("error execution phase preflight");
    expect(r.stderr).toContain("[ERROR ExternalEtcdVersion]");
    expect(r.stderr).toContain("https://127.0.0.1:5399/version");
  });

  test("etcd with a client certificate it does not trust fails preflight", async () => {
    const other = path.join(dir, "other-etcd-pki");
    const { etcdPki } = await import("./harness.ts");
    const p = etcdPki(other);
    m1.write("/etc/kubernetes/pki/etcd/stranger.pem", fs.readFileSync(p.cert, "utf8"));
    m1.write("/etc/kubernetes/pki/etcd/stranger-key.pem", fs.readFileSync(p.key, "utf8"));
    const r = await init(m1, initConfig().replace("apiserver-etcd-client.pem", "stranger.pem").replace("apiserver-etcd-client-key.pem", "stranger-key.pem"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("[ERROR ExternalEtcdVersion]");
  });

  test("node preparation not done: ip_forward 0 and swap on", async () => {
    m1.write("/proc/sys/net/ipv4/ip_forward", "0\n");
    m1.write("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n/swapfile\tfile\t1024\t0\t-2\n");
    const r = await init(m1, initConfig());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward contents are not set to 1");
    expect(r.stderr).toContain("[ERROR Swap]: running with swap on is not supported. Please disable swap");
    m1.write("/proc/sys/net/ipv4/ip_forward", "1\n");
    m1.write("/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
  });

  test("a missing image fails preflight naming it", async () => {
    const r = await init(m1, initConfig({ repo: `${registry.host}/incomplete` }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`[ERROR ImagePull]: failed to pull image ${registry.host}/incomplete/coredns:v1.8.4`);
  });
});

describe("init, joins and the cluster view", () => {
  let hash = "";

  test("init succeeds: PKI with kubeadm's SANs, kubeconfigs, manifests, apiserver on TLS, records", async () => {
    const r = await init(m1, initConfig());
    if (r.code !== 0) console.error(r.out);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("[certs] apiserver serving cert is signed for DNS names [kubernetes kubernetes.default kubernetes.default.svc kubernetes.default.svc.cluster.local master1 k8s-vip.example] and IPs [10.96.0.1 127.0.0.11]");
    expect(r.stdout).toContain("Your Kubernetes control-plane has initialized successfully!");
    const api = certFacts(m1.read("/etc/kubernetes/pki/apiserver.crt"));
    expect(api.ips).toEqual(["10.96.0.1", MASTER1]);
    expect(api.dns).toContain("kubernetes.default.svc.cluster.local");
    for (const f of ["ca.key", "front-proxy-ca.crt", "front-proxy-client.crt", "apiserver-kubelet-client.crt", "sa.key", "sa.pub"]) expect(fs.existsSync(m1.path(`/etc/kubernetes/pki/${f}`))).toBe(true);
    for (const f of ["admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf"]) expect(m1.read(`/etc/kubernetes/${f}`)).toContain(`server: https://${CPE}`);
    expect(m1.read("/etc/kubernetes/manifests/kube-scheduler.yaml")).toContain("--port=0");
    expect(m1.read("/etc/kubernetes/manifests/kube-apiserver.yaml")).toContain(`--etcd-servers=${etcd.url}`);
    expect(await signedBy(m1.read("/etc/kubernetes/pki/apiserver.crt"), m1.read("/etc/kubernetes/pki/ca.crt"))).toBe(true);
    expect(certFacts(m1.read("/etc/kubernetes/pki/ca.crt")).isCA).toBe(true);
    hash = spkiPin(m1.read("/etc/kubernetes/pki/ca.crt"));
    expect(r.stdout).toContain(`--discovery-token-ca-cert-hash ${hash}`);
    // curl, not our client, checks the apiserver certificate against the CA for the endpoint name.
    const curl = spawnSync("curl", ["-sS", "--cacert", m1.path("/etc/kubernetes/pki/ca.crt"), `https://${CPE}/readyz`], { encoding: "utf8" });
    expect(curl.stdout).toBe("ok");
    const rec = lastRecord(m1);
    expect(rec).toMatchObject({ tool: "kubeadm", command: "init", outcome: "ok", controlPlaneEndpoint: CPE, nodeName: "master1" });
    expect(rec.argv).toContain("<redacted>");
    expect(JSON.stringify(m1.records())).not.toContain(CERT_KEY);
  }, 120_000);

  test("kubectl needs a kubeconfig like the real one: none until admin.conf is copied to ~/.kube/config", async () => {
    const none = await m1.run("kubectl", ["get", "nodes"]);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("The connection to the server localhost:8080 was refused");
    // What the installer's post phase does on master1 (the seed's mkdir -p $HOME/.kube; cp admin.conf).
    m1.write(path.join(os.homedir(), ".kube/config"), m1.read("/etc/kubernetes/admin.conf"));
    expect((await m1.run("kubectl", ["get", "nodes", "-o", "name"])).stdout.trim()).toBe("node/master1");
  });

  test("init again on the same node stops at preflight (manifests exist, port in use)", async () => {
    const r = await init(m1, initConfig());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]");
    expect(r.stderr).toContain(`[ERROR Port-${API_PORT}]`);
  });

  test("the cluster state is in etcd under /registry/standin/", async () => {
    const key = Buffer.from("/registry/standin/objects/v1/secrets/kube-system/bootstrap-token-abcdef").toString("base64");
    const res = await fetch(`${etcd.url}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key }), tls: etcd.tls } as RequestInit);
    const kv = ((await res.json()) as any).kvs?.[0];
    expect(JSON.parse(Buffer.from(kv.value, "base64").toString()).stringData["token-id"]).toBe("abcdef");
  });

  // --cri-socket as the installer's configs give it: with no runtime socket on a "node", kubeadm 1.22 would pick dockershim.
  const joinArgs = (hashArg: string, token = TOKEN) => ["join", CPE, "--token", token, "--discovery-token-ca-cert-hash", hashArg, "--cri-socket", "unix:///run/containerd/containerd.sock"];

  test("a wrong discovery hash is refused", async () => {
    const r = await w1.run("kubeadm", joinArgs("sha256:" + "0".repeat(64)));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "${hash}" are pinned`);
    expect(fs.existsSync(w1.path("/etc/kubernetes/kubelet.conf"))).toBe(false);
  });

  test("an expired token is refused", async () => {
    const c = await m1.run("kubeadm", ["token", "create", "--ttl", "1s"]);
    expect(c.code).toBe(0);
    const short = c.stdout.trim();
    await Bun.sleep(1500);
    const r = await w1.run("kubeadm", joinArgs(hash, short));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`token id "${short.split(".")[0]}" is invalid for this cluster or it has expired`);
    const list = await m1.run("kubeadm", ["token", "list"]);
    expect(list.stdout).toMatch(new RegExp(`${short}\\s+<invalid>`));
  });

  test("a wrong certificate key is refused on control-plane join", async () => {
    const r = await m2.run("kubeadm", [...joinArgs(hash), "--control-plane", "--certificate-key", "f".repeat(64), "--apiserver-advertise-address", MASTER2, "--apiserver-bind-port", String(API_PORT)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("error decoding secret data with provided key: cipher: message authentication failed");
  });

  test("control-plane join: certificates from the encrypted upload, own apiserver, marked control-plane", async () => {
    const r = await m2.run("kubeadm", [...joinArgs(hash), "--control-plane", "--certificate-key", CERT_KEY, "--apiserver-advertise-address", MASTER2, "--apiserver-bind-port", String(API_PORT)]);
    if (r.code !== 0) console.error(r.out);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("This node has joined the cluster and a new control plane instance was created");
    expect(m2.read("/etc/kubernetes/pki/ca.crt")).toBe(m1.read("/etc/kubernetes/pki/ca.crt"));
    expect(m2.read("/etc/kubernetes/pki/sa.key")).toBe(m1.read("/etc/kubernetes/pki/sa.key"));
    expect(certFacts(m2.read("/etc/kubernetes/pki/apiserver.crt")).ips).toEqual(["10.96.0.1", MASTER2, MASTER1]);
    expect(await signedBy(m2.read("/etc/kubernetes/pki/apiserver.crt"), m1.read("/etc/kubernetes/pki/ca.crt"))).toBe(true);
    const curl = spawnSync("curl", ["-sS", "--cacert", m2.path("/etc/kubernetes/pki/ca.crt"), `https://${MASTER2}:${API_PORT}/readyz`], { encoding: "utf8" });
    expect(curl.stdout).toBe("ok");
    const rec = lastRecord(m2);
    expect(rec).toMatchObject({ command: "join", controlPlane: true, outcome: "ok" });
    expect(Date.parse(rec.started)).toBeLessThanOrEqual(Date.parse(rec.ts));
  }, 120_000);

  test("worker join, then nodes are NotReady until a CNI DaemonSet is applied", async () => {
    const r = await w1.run("kubeadm", joinArgs(hash));
    if (r.code !== 0) console.error(r.out);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("This node has joined the cluster:");
    const kubelet = certFacts(Buffer.from(/client-certificate-data: (\S+)/.exec(w1.read("/etc/kubernetes/kubelet.conf"))![1]!, "base64").toString());
    expect(kubelet.cn).toBe("system:node:node1");
    const nodesJson = JSON.parse((await m1.run("kubectl", ["--kubeconfig", "/etc/kubernetes/admin.conf", "get", "nodes", "-o", "json"])).stdout);
    const names = nodesJson.items.map((n: any) => n.metadata.name).sort();
    expect(names).toEqual(["master1", "master2", "node1"]);
    const ready = nodesJson.items.map((n: any) => n.status.conditions[0].status);
    expect(ready).toEqual(["False", "False", "False"]);
    const roles = nodesJson.items.find((n: any) => n.metadata.name === "master2").metadata.labels;
    expect(Object.keys(roles)).toContain("node-role.kubernetes.io/control-plane");
  }, 120_000);

  test("kubectl apply records the CNI manifest's images; nodes turn Ready; kube-system pods Running", async () => {
    m1.write("/root/flannel.yaml", `apiVersion: v1
kind: Namespace
metadata:
  name: kube-flannel
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-flannel-ds
  namespace: kube-system
spec:
  selector:
    matchLabels: {app: flannel}
  template:
    metadata:
      labels: {app: flannel}
    spec:
      initContainers:
      - name: install-cni
        image: ${registry.host}/${REPO_PATH}/flannel-cni-plugin:v1.0.0
      containers:
      - name: kube-flannel
        image: ${registry.host}/${REPO_PATH}/flannel:v0.15.1
`);
    const a = await m1.run("kubectl", ["apply", "-f", "/root/flannel.yaml"]);
    expect(a.code).toBe(0);
    expect(a.stdout).toContain("daemonset.apps/kube-flannel-ds created");
    expect(lastRecord(m1)).toMatchObject({ command: "apply", images: [`${registry.host}/${REPO_PATH}/flannel-cni-plugin:v1.0.0`, `${registry.host}/${REPO_PATH}/flannel:v0.15.1`] });
    const w = await m1.run("kubectl", ["wait", "--for=condition=Ready", "nodes", "--all", "--timeout=30s"]);
    expect(w.code).toBe(0);
    const pods = JSON.parse((await m1.run("kubectl", ["get", "pods", "-A", "-o", "json"])).stdout).items;
    const names = pods.map((p: any) => p.metadata.name);
    for (const n of ["kube-apiserver-master1", "kube-apiserver-master2", "kube-scheduler-master1", "kube-controller-manager-master2"]) expect(names).toContain(n);
    expect(names.filter((n: string) => n.startsWith("kube-flannel-ds-")).length).toBe(3);
    expect(names.filter((n: string) => n.startsWith("coredns-")).length).toBe(2);
    expect(pods.every((p: any) => p.status.phase === "Running")).toBe(true);
    const flannel = await m1.run("kubectl", ["-n", "kube-system", "wait", "--for=condition=Ready", "pods", "-l", "app=flannel", "--timeout=30s"]);
    expect(flannel.stdout.trim().split("\n").length).toBe(3);
    const dns = JSON.parse((await m1.run("kubectl", ["-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o", "json"])).stdout).items;
    expect(dns.map((p: any) => p.metadata.name.split("-")[0])).toEqual(["coredns", "coredns"]);
    const table = await m1.run("kubectl", ["get", "nodes"]);
    expect(table.stdout).toMatch(/master1\s+Ready\s+control-plane,master/);
  }, 60_000);

  test("the apiserver accepts client certificates of the cluster CA only", async () => {
    expect((await m2.run("kubectl", ["--kubeconfig", "/etc/kubernetes/admin.conf", "get", "nodes", "-o", "json"])).code).toBe(0); // master2's own admin.conf
    const { newCA, newLeaf } = await import("./lib/pki.ts");
    const evil = await newLeaf(await newCA("evil"), { cn: "kubernetes-admin", orgs: ["system:masters"], usage: "client" });
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const admin = m1.read("/etc/kubernetes/admin.conf");
    w1.write("/root/evil.conf", admin.replace(/client-certificate-data: \S+/, `client-certificate-data: ${b64(evil.cert)}`).replace(/client-key-data: \S+/, `client-key-data: ${b64(evil.key)}`));
    const r = await w1.run("kubectl", ["--kubeconfig", "/root/evil.conf", "get", "nodes", "-o", "json"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('User "system:anonymous" cannot list resource "nodes"');
  });

  test("kubectl get cs shows the 1.22 --port=0 symptom until the manifests are fixed", async () => {
    const before = await m1.run("kubectl", ["get", "cs"]);
    expect(before.stdout).toMatch(/scheduler\s+Unhealthy/);
    expect(before.stdout).toMatch(/etcd-0\s+Healthy/);
    for (const f of ["kube-scheduler", "kube-controller-manager"]) {
      const p = `/etc/kubernetes/manifests/${f}.yaml`;
      m1.write(p, m1.read(p).replace(/\n\s*- --port=0/, ""));
    }
    const after = await m1.run("kubectl", ["get", "cs"]);
    expect(after.stdout).toMatch(/scheduler\s+Healthy/);
    expect(after.stdout).toMatch(/controller-manager\s+Healthy/);
  });

  test("expired uploaded certificates: join says to re-upload; upload-certs fixes it", async () => {
    // Age the Secret in etcd as two hours passing would.
    const key = "/registry/standin/objects/v1/secrets/kube-system/kubeadm-certs";
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const get: any = await (await fetch(`${etcd.url}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: b64(key) }), tls: etcd.tls } as RequestInit)).json();
    const secret = JSON.parse(Buffer.from(get.kvs[0].value, "base64").toString());
    secret.metadata.annotations["standin.kubeadm/expires"] = new Date(Date.now() - 1000).toISOString();
    await fetch(`${etcd.url}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: b64(key), value: b64(JSON.stringify(secret)) }), tls: etcd.tls } as RequestInit);
    const m3 = node("master3", false); // its etcd client files come with kubeadm-certs
    const args = [...joinArgs(hash), "--control-plane", "--certificate-key", CERT_KEY, "--apiserver-advertise-address", "127.0.0.14", "--apiserver-bind-port", String(API_PORT)];
    const r = await m3.run("kubeadm", args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("kubeadm init phase upload-certs --upload-certs");
    const up = await m1.run("kubeadm", ["init", "phase", "upload-certs", "--upload-certs", "--certificate-key", CERT_KEY]);
    expect(up.code).toBe(0);
    const again = await m3.run("kubeadm", args);
    if (again.code !== 0) console.error(again.out);
    expect(again.code).toBe(0);
    expect(m3.read("/etc/kubernetes/pki/etcd/apiserver-etcd-client-key.pem")).toBe(m1.read("/etc/kubernetes/pki/etcd/apiserver-etcd-client-key.pem"));
  }, 120_000);

  test("token create --print-join-command gives a command that works", async () => {
    const r = await m1.run("kubeadm", ["token", "create", "--ttl", "24h", "--print-join-command"]);
    expect(r.stdout.trim()).toMatch(new RegExp(`^kubeadm join ${CPE.replace(/\./g, "\\.")} --token [a-z0-9]{6}\\.[a-z0-9]{16} --discovery-token-ca-cert-hash ${hash}$`));
  });

  test("drain, delete and reset a worker", async () => {
    expect((await m1.run("kubectl", ["drain", "node1"])).stderr).toContain("cannot delete DaemonSet-managed Pods");
    expect((await m1.run("kubectl", ["drain", "node1", "--ignore-daemonsets", "--delete-emptydir-data"])).code).toBe(0);
    expect((await m1.run("kubectl", ["delete", "node", "node1"])).code).toBe(0);
    const reset = await w1.run("kubeadm", ["reset", "-f"]);
    expect(reset.code).toBe(0);
    expect(fs.existsSync(w1.path("/etc/kubernetes/kubelet.conf"))).toBe(false);
    await Bun.sleep(1500);
    const names = JSON.parse((await m1.run("kubectl", ["get", "nodes", "-o", "json"])).stdout).items.map((n: any) => n.metadata.name);
    expect(names).not.toContain("node1");
    expect(w1.records().map((x) => x.command ?? x.tool)).toContain("reset");
  }, 60_000);

  test("the reset worker joins again through a JoinConfiguration file", async () => {
    w1.write("/root/join.yaml", `apiVersion: kubeadm.k8s.io/v1beta3
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: ${CPE}
    token: ${TOKEN}
    caCertHashes: [${hash}]
nodeRegistration:
  name: node1
  criSocket: unix:///run/containerd/containerd.sock
`);
    const mixed = await w1.run("kubeadm", ["join", "--config", "/root/join.yaml", "--token", TOKEN]);
    expect(mixed.stderr).toContain("can not mix '--config' with arguments [token]");
    const r = await w1.run("kubeadm", ["join", "--config", "/root/join.yaml"]);
    if (r.code !== 0) console.error(r.out);
    expect(r.code).toBe(0);
    expect(w1.read("/etc/kubernetes/pki/ca.crt")).toBe(m1.read("/etc/kubernetes/pki/ca.crt"));
    const curl = spawnSync("curl", ["-sS", "--cacert", w1.path("/etc/kubernetes/pki/ca.crt"), `https://${CPE}/readyz`], { encoding: "utf8" });
    expect(curl.stdout).toBe("ok");
    expect((await m1.run("kubectl", ["wait", "--for=condition=Ready", "node/node1", "--timeout=30s"])).code).toBe(0);
  }, 60_000);

  test("certs check-expiration and renew all keep the SANs", async () => {
    const before = certFacts(m1.read("/etc/kubernetes/pki/apiserver.crt"));
    const r = await m1.run("kubeadm", ["certs", "renew", "all"]);
    expect(r.code).toBe(0);
    const after = certFacts(m1.read("/etc/kubernetes/pki/apiserver.crt"));
    expect(after.dns).toEqual(before.dns);
    expect(after.ips).toEqual(before.ips);
    const c = await m1.run("kubeadm", ["certs", "check-expiration"]);
    expect(c.stdout).toMatch(/apiserver\s+\w{3} \d+, \d{4} \d\d:\d\d UTC\s+36[45]d\s+ca\s+no/);
  });
});
