// What kubeadm stores in the cluster through the API: configuration, bootstrap tokens, cluster-info,
// the encrypted control-plane certificates, control-plane marks and the two essential addons.
import YAML from "yaml";
import { randomBytes } from "node:crypto";
import { call, retry } from "../lib/api.ts";
import type { Client } from "../lib/kubeconfig.ts";
import { renderKubeconfig } from "../lib/kubeconfig.ts";
import { open, seal } from "../lib/secretbox.ts";
import { spkiPin } from "../lib/pki.ts";
import { formatDuration } from "../lib/duration.ts";
import { componentTags } from "../lib/versions.ts";
import type { ClusterModel, Doc } from "../config/load.ts";
import { exists, readFile, writeFile } from "./node.ts";
import type { TokenSecret } from "../apiserver/auth.ts";

export const UPLOADED_CERTS_TTL_MS = 2 * 3_600_000;

export const kubeletConfigMapName = (c: ClusterModel) => (c.kubernetesVersion.minor <= 23 ? `kubelet-config-1.${c.kubernetesVersion.minor}` : "kubelet-config");

const configMap = (ns: string, name: string, data: Record<string, string>) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns }, data });

export async function uploadConfig(api: Client, c: ClusterModel, kubelet: Doc) {
  console.log(`[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace`);
  await call(api, "PUT", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config", configMap("kube-system", "kubeadm-config", { ClusterConfiguration: YAML.stringify(c.raw) }));
  const name = kubeletConfigMapName(c);
  console.log(`[kubelet] Creating a ConfigMap "${name}" in namespace kube-system with the configuration for the kubelets in the cluster`);
  await call(api, "PUT", `/api/v1/namespaces/kube-system/configmaps/${name}`, configMap("kube-system", name, { kubelet: YAML.stringify(kubelet) }));
}

export const randomToken = () => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const pick = (n: number) => [...randomBytes(n)].map((b) => alphabet[b % 36]).join("");
  return `${pick(6)}.${pick(16)}`;
};

export interface TokenInput { token: string; ttlMs: number; usages: string[]; groups: string[]; description?: string }

export async function putToken(api: Client, t: TokenInput) {
  const [id, secret] = t.token.split(".") as [string, string];
  const s: TokenSecret = {
    metadata: { name: `bootstrap-token-${id}`, namespace: "kube-system" },
    type: "bootstrap.kubernetes.io/token",
    stringData: {
      "token-id": id, "token-secret": secret,
      ...(t.ttlMs > 0 ? { expiration: new Date(Date.now() + t.ttlMs).toISOString() } : {}),
      ...Object.fromEntries(t.usages.map((u) => [`usage-bootstrap-${u}`, "true"])),
      "auth-extra-groups": t.groups.join(","),
      ...(t.description ? { description: t.description } : {}),
    },
  };
  await call(api, "PUT", `/api/v1/namespaces/kube-system/secrets/${s.metadata.name}`, s);
}

export async function listTokens(api: Client): Promise<TokenSecret[]> {
  const r = await call(api, "GET", "/api/v1/namespaces/kube-system/secrets");
  return (r.items as any[]).filter((s) => s.type === "bootstrap.kubernetes.io/token");
}

export async function putClusterInfo(api: Client, c: ClusterModel, server: string) {
  console.log(`[bootstrap-token] Creating the "cluster-info" ConfigMap in the "kube-public" namespace`);
  const ca = readFile(`${c.certificatesDir}/ca.crt`);
  const kubeconfig = renderKubeconfig({ clusterName: "", server: `https://${server}`, caCert: ca, user: "" });
  const clustersOnly = YAML.stringify({ ...YAML.parse(kubeconfig), contexts: null, "current-context": "", users: null });
  await call(api, "PUT", "/api/v1/namespaces/kube-public/configmaps/cluster-info", configMap("kube-public", "cluster-info", { kubeconfig: clustersOnly }));
}

/** Files carried by the kubeadm-certs Secret: name in the Secret -> path on disk. */
export function uploadedFiles(c: ClusterModel): Record<string, string> {
  const d = c.certificatesDir;
  const files: Record<string, string> = {
    "ca.crt": `${d}/ca.crt`, "ca.key": `${d}/ca.key`, "front-proxy-ca.crt": `${d}/front-proxy-ca.crt`, "front-proxy-ca.key": `${d}/front-proxy-ca.key`,
    "sa.key": `${d}/sa.key`, "sa.pub": `${d}/sa.pub`,
  };
  const x = c.etcdExternal;
  if (x) Object.assign(files, { "external-etcd-ca.crt": x.caFile, "external-etcd.crt": x.certFile, "external-etcd.key": x.keyFile });
  return files;
}

export async function uploadCerts(api: Client, c: ClusterModel, key: string) {
  console.log(`[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace`);
  const data = Object.fromEntries(Object.entries(uploadedFiles(c)).filter(([, p]) => exists(p)).map(([n, p]) => [n, seal(readFile(p), key)]));
  const expires = new Date(Date.now() + UPLOADED_CERTS_TTL_MS).toISOString();
  await call(api, "PUT", "/api/v1/namespaces/kube-system/secrets/kubeadm-certs", {
    apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name: "kubeadm-certs", namespace: "kube-system", annotations: { "standin.kubeadm/expires": expires } }, data,
  });
  console.log(`[upload-certs] Using certificate key:\n${key}`);
}

export async function downloadCerts(api: Client, c: ClusterModel, key: string) {
  console.log(`[download-certs] Downloading the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace`);
  let secret: any;
  try {
    secret = await call(api, "GET", "/api/v1/namespaces/kube-system/secrets/kubeadm-certs");
  } catch (e) {
    if ((e as { status?: number }).status === 404)
      throw new Error('error downloading the secret: Secret "kubeadm-certs" was not found in the "kube-system" Namespace. This Secret might have expired. Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to generate a new one');
    throw e;
  }
  const files = uploadedFiles(c);
  const plain: [string, string][] = [];
  for (const [name, sealed] of Object.entries(secret.data as Record<string, string>)) {
    try {
      plain.push([files[name]!, open(sealed, key)]);
    } catch (e) {
      throw new Error(`error downloading certs: error decoding secret data with provided key: ${(e as Error).message}`);
    }
  }
  for (const [p, text] of plain) writeFile(p, text, p.endsWith(".key") ? 0o600 : 0o644);
}

export async function markControlPlane(api: Client, c: ClusterModel, nodeName: string, timeoutMs: number) {
  const legacy = c.kubernetesVersion.minor <= 23;
  const labels = ["node-role.kubernetes.io/control-plane", ...(legacy ? ["node-role.kubernetes.io/master"] : []), "node.kubernetes.io/exclude-from-external-load-balancers"];
  const taint = legacy ? "node-role.kubernetes.io/master" : "node-role.kubernetes.io/control-plane";
  const shown = labels.map((l) => (l.endsWith("/master") ? `${l}(deprecated)` : l));
  console.log(`[mark-control-plane] Marking the node ${nodeName} as control-plane by adding the labels: [${shown.join(" ")}]`);
  console.log(`[mark-control-plane] Marking the node ${nodeName} as control-plane by adding the taints [${taint}:NoSchedule]`);
  // The node object appears when this node's kubelet registers; kubeadm waits for it.
  await retry(() => call(api, "PATCH", `/api/v1/nodes/${nodeName}`, { metadata: { labels: Object.fromEntries(labels.map((l) => [l, ""])) }, spec: { taints: [{ key: taint, effect: "NoSchedule" }] } }), timeoutMs);
}

export async function applyAddons(api: Client, c: ClusterModel) {
  const tags = componentTags(c.kubernetesVersion);
  const repo = c.imageRepository;
  const corednsImage = repo === "k8s.gcr.io" || repo === "registry.k8s.io" ? `${repo}/coredns/coredns:${tags.coredns}` : `${repo}/coredns:${tags.coredns}`;
  const template = (image: string, labels: Record<string, string>) => ({ metadata: { labels }, spec: { containers: [{ name: "c", image }] } });
  await call(api, "PUT", "/apis/apps/v1/namespaces/kube-system/deployments/coredns", { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "coredns", namespace: "kube-system" }, spec: { replicas: 2, template: template(corednsImage, { "k8s-app": "kube-dns" }) } });
  console.log("[addons] Applied essential addon: CoreDNS");
  await call(api, "PUT", "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy", { apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "kube-proxy", namespace: "kube-system" }, spec: { template: template(`${repo}/kube-proxy:${c.kubernetesVersion.text}`, { "k8s-app": "kube-proxy" }) } });
  console.log("[addons] Applied essential addon: kube-proxy");
}

export function joinCommand(server: string, token: string, caPem: string) {
  return `kubeadm join ${server} --token ${token} --discovery-token-ca-cert-hash ${spkiPin(caPem)}`;
}

export const ttlText = (s: TokenSecret) => {
  const exp = s.stringData.expiration;
  if (!exp) return { ttl: "<forever>", expires: "<never>" };
  const left = Date.parse(exp) - Date.now();
  return { ttl: left <= 0 ? "<invalid>" : formatDuration(Math.round(left / 1000) * 1000), expires: exp.replace(/\.\d+Z$/, "Z") };
};
