// Config decoding per version, in-process: v1beta3 for 1.22-1.30, v1beta4 from 1.31, the field
// differences between them, and the image list real kubeadm derives.
import { describe, expect, test } from "bun:test";
import { clusterModel, initModel, joinModel, readDocs } from "./config/load.ts";
import { parseVersion, imageList } from "./lib/versions.ts";
import { parseDuration } from "./lib/duration.ts";
import { redactArgv } from "./lib/records.ts";
import { StandinError } from "./lib/errors.ts";

const v122 = parseVersion("v1.22.2"), v131 = parseVersion("v1.31.0"), v128 = parseVersion("v1.28.4");

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StandinError);
    return (e as Error).message;
  }
  throw new Error("expected a failure");
}

const cluster = (api: string, version: string, extra = "") => `apiVersion: ${api}
kind: ClusterConfiguration
kubernetesVersion: ${version}
controlPlaneEndpoint: 10.0.0.100:9443
etcd:
  external:
    endpoints: [https://10.0.0.1:2379]
    caFile: /ca.pem
    certFile: /c.pem
    keyFile: /k.pem
${extra}`;

describe("v1beta4 (1.31 on)", () => {
  test("extraArgs as a list of name/value, timeouts in InitConfiguration", () => {
    const docs = readDocs(`apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint: {advertiseAddress: 10.0.0.1, bindPort: 6443}
nodeRegistration:
  name: m1
  kubeletExtraArgs:
  - {name: node-ip, value: 10.0.0.1}
timeouts:
  controlPlaneComponentHealthCheck: 2m0s
---
${cluster("kubeadm.k8s.io/v1beta4", "v1.31.0", "apiServer:\n  extraArgs:\n  - name: audit-log-path\n    value: /var/log/audit.log\n")}`, "f.yaml", v131);
    const m = initModel(docs, v131);
    expect(m.cluster.extraArgs.apiServer).toEqual({ "audit-log-path": "/var/log/audit.log" });
    expect(m.controlPlaneTimeoutMs).toBe(120_000);
  });

  test("the v1beta3 map form of extraArgs is a type error in v1beta4", () => {
    const msg = errorOf(() => readDocs(cluster("kubeadm.k8s.io/v1beta4", "v1.31.0", "apiServer:\n  extraArgs:\n    audit-log-path: /x\n"), "f.yaml", v131));
    expect(msg).toContain("cannot unmarshal object into Go struct field ClusterConfiguration.apiServer.extraArgs of type []struct");
  });

  test("timeoutForControlPlane moved out of apiServer in v1beta4", () => {
    const msg = errorOf(() => readDocs(cluster("kubeadm.k8s.io/v1beta4", "v1.31.0", "apiServer:\n  timeoutForControlPlane: 4m0s\n"), "f.yaml", v131));
    expect(msg).toContain('strict decoding error: unknown field "apiServer.timeoutForControlPlane"');
  });

  test("v1beta3 is refused for 1.31 (real kubeadm only warns)", () => {
    const msg = errorOf(() => readDocs(cluster("kubeadm.k8s.io/v1beta3", "v1.31.0"), "f.yaml", v131));
    expect(msg).toContain('uses a deprecated API spec: "kubeadm.k8s.io/v1beta3"');
  });

  test("v1beta2 after its removal gets the old-API error", () => {
    const msg = errorOf(() => readDocs(cluster("kubeadm.k8s.io/v1beta2", "v1.28.4"), "f.yaml", v128));
    expect(msg).toContain('uses an old API spec: "kubeadm.k8s.io/v1beta2". Please use kubeadm v1.25 instead');
  });
});

describe("v1beta3 and the component configs", () => {
  test("a kubelet field typo is caught with the newer strict wording on 1.28", () => {
    const msg = errorOf(() => readDocs("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriverr: systemd\n", "f.yaml", v128));
    expect(msg).toContain('Group:"kubelet.config.k8s.io", Version:"v1beta1", Kind:"KubeletConfiguration"}: strict decoding error: unknown field "cgroupDriverr"');
  });

  test("an unknown kind and a duplicated kind", () => {
    expect(errorOf(() => readDocs("apiVersion: kubeadm.k8s.io/v1beta3\nkind: ResetConfiguration\n", "f.yaml", v122))).toContain('no kind "ResetConfiguration" is registered');
    const twice = `${cluster("kubeadm.k8s.io/v1beta3", "v1.22.2")}---\n${cluster("kubeadm.k8s.io/v1beta3", "v1.22.2")}`;
    expect(errorOf(() => readDocs(twice, "f.yaml", v122))).toContain('kind "ClusterConfiguration" is specified twice');
  });

  test("a kubernetesVersion other than the stand-in's is refused with the way out", () => {
    const docs = readDocs(cluster("kubeadm.k8s.io/v1beta3", "v1.23.0"), "f.yaml", v122);
    expect(errorOf(() => clusterModel(docs.get("ClusterConfiguration"), v122))).toContain("KUBE_STANDIN_VERSION=v1.23.0");
  });

  test("a bad pod subnet and a bad duration", () => {
    const bad = readDocs(cluster("kubeadm.k8s.io/v1beta3", "v1.22.2", "networking:\n  podSubnet: 10.244.0.0/33\n"), "f.yaml", v122);
    expect(errorOf(() => clusterModel(bad.get("ClusterConfiguration"), v122))).toContain('networking.podSubnet: Invalid value: "10.244.0.0/33"');
    expect(errorOf(() => readDocs("apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nbootstrapTokens:\n- token: abcdef.0123456789abcdef\n  ttl: 1day\n", "f.yaml", v122))).toContain('time: invalid duration "1day"');
  });

  test("JoinConfiguration without CA pins but with a token decodes; with a bad token it does not", () => {
    const good = joinModel(readDocs("apiVersion: kubeadm.k8s.io/v1beta3\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    token: abcdef.0123456789abcdef\n    apiServerEndpoint: 10.0.0.100:9443\n    caCertHashes: [sha256:00]\n", "j.yaml", v122));
    expect(good).toMatchObject({ endpoint: "10.0.0.100:9443", token: "abcdef.0123456789abcdef", caCertHashes: ["sha256:00"] });
    expect(errorOf(() => joinModel(readDocs("apiVersion: kubeadm.k8s.io/v1beta3\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    token: nope\n    apiServerEndpoint: a:1\n", "j.yaml", v122)))).toContain("the bootstrap token is invalid");
  });
});

describe("images and small helpers", () => {
  test("image list per version and registry", () => {
    expect(imageList({ version: v131, imageRepository: "registry.k8s.io", externalEtcd: false })).toEqual([
      "registry.k8s.io/kube-apiserver:v1.31.0", "registry.k8s.io/kube-controller-manager:v1.31.0", "registry.k8s.io/kube-scheduler:v1.31.0",
      "registry.k8s.io/kube-proxy:v1.31.0", "registry.k8s.io/pause:3.10", "registry.k8s.io/etcd:3.5.15-0", "registry.k8s.io/coredns/coredns:v1.11.3",
    ]);
    expect(imageList({ version: v122, imageRepository: "depot:5000/k8s", externalEtcd: true }).at(-1)).toBe("depot:5000/k8s/coredns:v1.8.4");
  });

  test("Go durations", () => {
    expect(parseDuration("24h0m0s")).toBe(86_400_000);
    expect(parseDuration("0")).toBe(0);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("24")).toBeNull();
  });

  test("secrets never reach the records", () => {
    expect(redactArgv(["join", "v:9443", "--token", "abcdef.0123456789abcdef", "--certificate-key=00ff"])).toEqual(["join", "v:9443", "--token", "<redacted>", "--certificate-key=<redacted>"]);
  });
});
