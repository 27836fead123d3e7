// What init and join both write on a node: PKI, kubeconfigs, static pod manifests, kubelet files,
// and starting the kubelet.
import fs from "node:fs";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import YAML from "yaml";
import { hostName, rooted, selfCommand, useSystemd } from "../lib/env.ts";
import { newCA, newKeyPair, newLeaf, keyToPem, publicKeyToPem, type Pair, type LeafSpec } from "../lib/pki.ts";
import { renderKubeconfig } from "../lib/kubeconfig.ts";
import { retry } from "../lib/api.ts";
import { stopPid } from "../lib/proc.ts";
import { componentTags, type Semver } from "../lib/versions.ts";
import { isIp, splitHostPort } from "../config/values.ts";
import type { ClusterModel, Doc, NodeRegistrationModel } from "../config/load.ts";

export const KUBE_DIR = "/etc/kubernetes";
export const MANIFESTS = "/etc/kubernetes/manifests";
export const KUBELET_CONFIG = "/var/lib/kubelet/config.yaml";
const KUBEADM_FLAGS = "/var/lib/kubelet/kubeadm-flags.env";

export function writeFile(p: string, data: string, mode = 0o600) {
  const full = rooted(p);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, data, { mode });
  fs.chmodSync(full, mode);
}
export const readFile = (p: string) => fs.readFileSync(rooted(p), "utf8");
export const exists = (p: string) => fs.existsSync(rooted(p));

export function readPair(dir: string, base: string): Pair {
  return { cert: readFile(`${dir}/${base}.crt`), key: readFile(`${dir}/${base}.key`) };
}
function writePair(dir: string, base: string, p: Pair) {
  writeFile(`${dir}/${base}.crt`, p.cert, 0o644);
  writeFile(`${dir}/${base}.key`, p.key, 0o600);
}

/** First address of the service subnet: the `kubernetes` service IP. */
export function serviceIp(cidr: string, offset = 1): string {
  const [ip] = cidr.split("/");
  const n = ip!.split(".").reduce((a, o) => a * 256 + Number(o), 0) + offset;
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

export function endpointOf(c: ClusterModel, advertise: string, bindPort: number): string {
  if (!c.controlPlaneEndpoint) return `${advertise}:${bindPort}`;
  const hp = splitHostPort(c.controlPlaneEndpoint)!;
  return hp.port ? c.controlPlaneEndpoint : `${c.controlPlaneEndpoint}:${bindPort}`;
}

export interface NodeFacts { cluster: ClusterModel; nodeName: string; advertiseAddress: string; bindPort: number }

export function apiserverSpec(f: NodeFacts): LeafSpec {
  const c = f.cluster;
  const dns = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", `kubernetes.default.svc.${c.dnsDomain}`, f.nodeName];
  const ips = [serviceIp(c.serviceSubnet), f.advertiseAddress];
  const cpeHost = c.controlPlaneEndpoint ? splitHostPort(c.controlPlaneEndpoint)!.host : undefined;
  for (const san of [...(cpeHost ? [cpeHost] : []), ...c.certSANs]) {
    const list = isIp(san) ? ips : dns;
    if (!list.includes(san)) list.push(san);
  }
  return { cn: "kube-apiserver", dns, ips, usage: "server" };
}

/** The [certs] phase: CAs (kept when present, as kubeadm does) and this node's leaves. */
export async function writeCerts(f: NodeFacts, withCAs: boolean) {
  const dir = f.cluster.certificatesDir;
  console.log(`[certs] Using certificateDir folder "${dir}"`);
  const ensureCA = async (base: string, cn: string) => {
    if (exists(`${dir}/${base}.crt`) && exists(`${dir}/${base}.key`)) return console.log(`[certs] Using existing ${base} certificate authority`);
    if (!withCAs) throw new Error(`the ${base} certificate authority is missing from ${dir}`);
    console.log(`[certs] Generating "${base}" certificate and key`);
    writePair(dir, base, await newCA(cn));
  };
  await ensureCA("ca", "kubernetes");
  const ca = readPair(dir, "ca");
  const api = apiserverSpec(f);
  console.log(`[certs] Generating "apiserver" certificate and key`);
  console.log(`[certs] apiserver serving cert is signed for DNS names [${api.dns!.join(" ")}] and IPs [${api.ips!.join(" ")}]`);
  writePair(dir, "apiserver", await newLeaf(ca, api));
  console.log(`[certs] Generating "apiserver-kubelet-client" certificate and key`);
  writePair(dir, "apiserver-kubelet-client", await newLeaf(ca, { cn: "kube-apiserver-kubelet-client", orgs: ["system:masters"], usage: "client" }));
  await ensureCA("front-proxy-ca", "front-proxy-ca");
  console.log(`[certs] Generating "front-proxy-client" certificate and key`);
  writePair(dir, "front-proxy-client", await newLeaf(readPair(dir, "front-proxy-ca"), { cn: "front-proxy-client", usage: "client" }));
  if (f.cluster.etcdExternal)
    for (const what of ["etcd/ca certificate authority", "etcd/server certificate", "etcd/peer certificate", "etcd/healthcheck-client certificate", "apiserver-etcd-client certificate"])
      console.log(`[certs] External etcd mode: Skipping ${what} generation`);
  if (exists(`${dir}/sa.key`)) console.log(`[certs] Using the existing "sa" key`);
  else {
    console.log(`[certs] Generating "sa" key and public key`);
    const sa = await newKeyPair();
    writeFile(`${dir}/sa.key`, await keyToPem(sa.privateKey), 0o600);
    writeFile(`${dir}/sa.pub`, await publicKeyToPem(sa.publicKey), 0o644);
  }
}

// From 1.29 admin.conf is bound to the kubeadm:cluster-admins group and super-admin.conf holds system:masters.
export const KUBECONFIG_USERS: Record<string, { cn: (node: string) => string; orgs: string[] }> = {
  "admin.conf": { cn: () => "kubernetes-admin", orgs: ["system:masters"] },
  "admin.conf@1.29": { cn: () => "kubernetes-admin", orgs: ["kubeadm:cluster-admins"] },
  "super-admin.conf": { cn: () => "kubernetes-super-admin", orgs: ["system:masters"] },
  "kubelet.conf": { cn: (n) => `system:node:${n}`, orgs: ["system:nodes"] },
  "controller-manager.conf": { cn: () => "system:kube-controller-manager", orgs: [] },
  "scheduler.conf": { cn: () => "system:kube-scheduler", orgs: [] },
};

export async function writeKubeconfigs(f: NodeFacts, files: string[], server: string) {
  const ca = readPair(f.cluster.certificatesDir, "ca");
  console.log(`[kubeconfig] Using kubeconfig folder "${KUBE_DIR}"`);
  for (const file of files) {
    const u = (f.cluster.kubernetesVersion.minor >= 29 && KUBECONFIG_USERS[`${file}@1.29`]) || KUBECONFIG_USERS[file]!;
    const leaf = await newLeaf(ca, { cn: u.cn(f.nodeName), orgs: u.orgs, usage: "client" });
    console.log(`[kubeconfig] Writing "${file}" kubeconfig file`);
    writeFile(`${KUBE_DIR}/${file}`, renderKubeconfig({ clusterName: f.cluster.clusterName, server: `https://${server}`, caCert: ca.cert, user: u.cn(f.nodeName), clientCert: leaf.cert, clientKey: leaf.key }));
  }
}

const flagList = (defaults: Record<string, string>, extra: Record<string, string>) =>
  Object.entries({ ...defaults, ...extra }).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `--${k}=${v}`);

function staticPod(name: string, image: string, command: string[]): string {
  return YAML.stringify({
    apiVersion: "v1", kind: "Pod",
    metadata: { labels: { component: name, tier: "control-plane" }, name, namespace: "kube-system" },
    spec: { containers: [{ command, image, imagePullPolicy: "IfNotPresent", name }], hostNetwork: true, priorityClassName: "system-node-critical" },
  });
}

/** The [control-plane] phase: the three static pod manifests with real kubeadm's flags for the version. */
export function writeManifests(f: NodeFacts) {
  const c = f.cluster, pki = c.certificatesDir, v = c.kubernetesVersion, repo = c.imageRepository;
  const x = c.etcdExternal!;
  const apiserver = flagList(
    {
      "advertise-address": f.advertiseAddress, "allow-privileged": "true", "authorization-mode": "Node,RBAC", "client-ca-file": `${pki}/ca.crt`,
      "enable-admission-plugins": "NodeRestriction", "enable-bootstrap-token-auth": "true",
      "etcd-cafile": x.caFile, "etcd-certfile": x.certFile, "etcd-keyfile": x.keyFile, "etcd-servers": x.endpoints.join(","),
      ...(v.minor <= 23 ? { "insecure-port": "0" } : {}),
      "kubelet-client-certificate": `${pki}/apiserver-kubelet-client.crt`, "kubelet-client-key": `${pki}/apiserver-kubelet-client.key`,
      "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
      "proxy-client-cert-file": `${pki}/front-proxy-client.crt`, "proxy-client-key-file": `${pki}/front-proxy-client.key`,
      "requestheader-allowed-names": "front-proxy-client", "requestheader-client-ca-file": `${pki}/front-proxy-ca.crt`,
      "requestheader-extra-headers-prefix": "X-Remote-Extra-", "requestheader-group-headers": "X-Remote-Group", "requestheader-username-headers": "X-Remote-User",
      "secure-port": String(f.bindPort), "service-account-issuer": `https://kubernetes.default.svc.${c.dnsDomain}`,
      "service-account-key-file": `${pki}/sa.pub`, "service-account-signing-key-file": `${pki}/sa.key`,
      "service-cluster-ip-range": c.serviceSubnet, "tls-cert-file": `${pki}/apiserver.crt`, "tls-private-key-file": `${pki}/apiserver.key`,
    },
    c.extraArgs.apiServer,
  );
  const legacyPort: Record<string, string> = v.minor <= 22 ? { port: "0" } : {}; // removed by the seed's componentstatus fix on 1.22
  const cm = flagList(
    {
      "authentication-kubeconfig": `${KUBE_DIR}/controller-manager.conf`, "authorization-kubeconfig": `${KUBE_DIR}/controller-manager.conf`,
      "bind-address": "127.0.0.1", "client-ca-file": `${pki}/ca.crt`, "cluster-name": c.clusterName,
      ...(c.podSubnet ? { "allocate-node-cidrs": "true", "cluster-cidr": c.podSubnet } : ({} as Record<string, string>)),
      "cluster-signing-cert-file": `${pki}/ca.crt`, "cluster-signing-key-file": `${pki}/ca.key`, controllers: "*,bootstrapsigner,tokencleaner",
      kubeconfig: `${KUBE_DIR}/controller-manager.conf`, "leader-elect": "true", ...legacyPort,
      "requestheader-client-ca-file": `${pki}/front-proxy-ca.crt`, "root-ca-file": `${pki}/ca.crt`,
      "service-account-private-key-file": `${pki}/sa.key`, "service-cluster-ip-range": c.serviceSubnet, "use-service-account-credentials": "true",
    },
    c.extraArgs.controllerManager,
  );
  const sched = flagList(
    {
      "authentication-kubeconfig": `${KUBE_DIR}/scheduler.conf`, "authorization-kubeconfig": `${KUBE_DIR}/scheduler.conf`,
      "bind-address": "127.0.0.1", kubeconfig: `${KUBE_DIR}/scheduler.conf`, "leader-elect": "true", ...legacyPort,
    },
    c.extraArgs.scheduler,
  );
  console.log(`[control-plane] Using manifest folder "${MANIFESTS}"`);
  for (const [name, flags] of [["kube-apiserver", apiserver], ["kube-controller-manager", cm], ["kube-scheduler", sched]] as const) {
    console.log(`[control-plane] Creating static Pod manifest for "${name}"`);
    writeFile(`${MANIFESTS}/${name}.yaml`, staticPod(name, `${repo}/${name}:${v.text}`, [name, ...flags]));
  }
}

/** The kubelet configuration kubeadm writes: the user's KubeletConfiguration with kubeadm's defaults. */
export function kubeletConfig(c: ClusterModel, user: Doc): Doc {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration",
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: `${c.certificatesDir}/ca.crt` } },
    authorization: { mode: "Webhook" }, cgroupDriver: "systemd", clusterDNS: [serviceIp(c.serviceSubnet, 10)], clusterDomain: c.dnsDomain,
    rotateCertificates: true, staticPodPath: MANIFESTS, ...user,
  };
}

/**
 * Real kubeadm's runtime flags in kubeadm-flags.env (buildKubeletArgMapCommon): the dockershim socket
 * (/var/run/dockershim.sock, kubeadm's default before 1.24) gets only --network-plugin=cni, since docker
 * is the kubelet's default runtime there; any other socket --container-runtime=remote (a flag gone in
 * 1.27) and the endpoint.
 */
export function runtimeFlags(cri: string | undefined, version: Semver): string[] {
  const minor = version.minor;
  if (!cri) return [];
  if (minor < 24 && cri.replace(/^unix:\/\//, "") === "/var/run/dockershim.sock") return ["--network-plugin=cni"];
  return [...(minor < 27 ? ["--container-runtime=remote"] : []), `--container-runtime-endpoint=${cri.startsWith("unix://") ? cri : `unix://${cri}`}`];
}

/**
 * kubeadm's CRI socket when none is configured (DetectCRISocket): docker's if its socket is there (kubeadm
 * 1.22 prefers it over containerd's), else containerd's if there, else the version's default —
 * dockershim before 1.24, containerd after.
 */
export function detectCriSocket(version: Semver): string {
  const dockershim = "/var/run/dockershim.sock";
  const containerd = "unix:///run/containerd/containerd.sock";
  if (version.minor < 24 && fs.existsSync(rooted("/var/run/docker.sock"))) return dockershim;
  if (fs.existsSync(rooted("/run/containerd/containerd.sock"))) return containerd;
  return version.minor < 24 ? dockershim : containerd;
}

export async function startKubelet(c: ClusterModel, kubelet: Doc, node: NodeRegistrationModel) {
  const pause = `${c.imageRepository}/pause:${componentTags(c.kubernetesVersion).pause}`;
  const cri = node.criSocket ?? detectCriSocket(c.kubernetesVersion);
  const args = [
    ...runtimeFlags(cri, c.kubernetesVersion),
    `--pod-infra-container-image=${pause}`,
    // As kubeadm does when the node name is not the hostname.
    ...(node.name !== hostName() && !node.kubeletExtraArgs["hostname-override"] ? [`--hostname-override=${node.name}`] : []),
    ...Object.entries(node.kubeletExtraArgs).map(([k, v]) => `--${k}=${v}`),
  ];
  console.log(`[kubelet-start] Writing kubelet environment file with flags to file "${KUBEADM_FLAGS}"`);
  writeFile(KUBEADM_FLAGS, `KUBELET_KUBEADM_ARGS="${args.join(" ")}"\n`, 0o644);
  console.log(`[kubelet-start] Writing kubelet configuration to file "${KUBELET_CONFIG}"`);
  writeFile(KUBELET_CONFIG, YAML.stringify(kubelet), 0o644);
  console.log("[kubelet-start] Starting the kubelet");
  await restartKubelet();
}

export async function restartKubelet() {
  if (useSystemd()) {
    const r = spawnSync("systemctl", ["restart", "kubelet"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`systemctl restart kubelet failed: ${(r.stderr || r.stdout).trim()}`);
    return;
  }
  await stopPid("kubelet");
  const log = rooted("/var/log/kube-standin/kubelet.log");
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const out = fs.openSync(log, "a");
  const [cmd, ...pre] = selfCommand();
  // argv0 "kube-standin" so the child picks its tool from the first argument, not from our name.
  // Same command line as kubelet.service: the fixed flags plus $KUBELET_KUBEADM_ARGS from kubeadm-flags.env.
  const env = exists(KUBEADM_FLAGS) ? /KUBELET_KUBEADM_ARGS="([^"]*)"/.exec(readFile(KUBEADM_FLAGS))?.[1] ?? "" : "";
  const args = ["kubelet", `--config=${KUBELET_CONFIG}`, `--kubeconfig=${KUBE_DIR}/kubelet.conf`, ...env.split(" ").filter(Boolean)];
  spawn(cmd!, [...pre, ...args], { argv0: "kube-standin", detached: true, stdio: ["ignore", out, out] }).unref();
}

export async function stopKubelet() {
  if (useSystemd()) spawnSync("systemctl", ["stop", "kubelet"]);
  else await stopPid("kubelet");
  await stopPid("kube-apiserver", 5000);
}

/** [wait-control-plane]: this node's apiserver answers /readyz with a certificate from our CA. */
export async function waitApiserver(f: NodeFacts, timeoutMs: number) {
  const ca = readFile(`${f.cluster.certificatesDir}/ca.crt`);
  const url = `https://${f.advertiseAddress.includes(":") ? `[${f.advertiseAddress}]` : f.advertiseAddress}:${f.bindPort}/readyz`;
  const t0 = Date.now();
  try {
    await retry(async () => {
      const r = await fetch(url, { tls: { ca }, signal: AbortSignal.timeout(3000) } as RequestInit);
      const body = await r.text();
      if (!r.ok) throw new Error(`${r.status} ${body.trim()}`);
    }, timeoutMs);
  } catch (e) {
    throw new Error(`couldn't initialize a Kubernetes cluster: timed out waiting for the condition: ${url}: ${(e as Error).message} (kubelet log: ${useSystemd() ? "journalctl -u kubelet" : rooted("/var/log/kube-standin/kubelet.log")})`);
  }
  console.log(`[apiclient] All control plane components are healthy after ${((Date.now() - t0) / 1000).toFixed(6)} seconds`);
}
