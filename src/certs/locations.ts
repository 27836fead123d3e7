// Where certificates live on a node, by role, and which CA each one should be signed by.
import type { Role } from "../config/types.ts";

const KUBERNETES = [
  "/etc/kubernetes/pki/*.crt",
  "/etc/kubernetes/pki/etcd/*.crt",
  "/etc/kubernetes/admin.conf",
  "/etc/kubernetes/super-admin.conf",
  "/etc/kubernetes/controller-manager.conf",
  "/etc/kubernetes/scheduler.conf",
  "/etc/kubernetes/kubelet.conf",
  "/var/lib/kubelet/pki/kubelet-client-current.pem",
  "/var/lib/kubelet/pki/kubelet.crt",
];
const ETCD = ["/etc/etcd/pki/*.crt"];

/** Shell globs of the certificate and kubeconfig files a node with these roles can have. */
export function certGlobs(roles: readonly Role[]): string[] {
  const k8s = roles.includes("control-plane") || roles.includes("worker");
  return [...(k8s ? KUBERNETES : []), ...(roles.includes("etcd") ? ETCD : [])];
}

export const KUBERNETES_CA = "/etc/kubernetes/pki/ca.crt";
export const FRONT_PROXY_CA = "/etc/kubernetes/pki/front-proxy-ca.crt";
export const KUBEADM_ETCD_CA = "/etc/kubernetes/pki/etcd/ca.crt";
export const ETCD_CA = "/etc/etcd/pki/ca.crt";

/**
 * The CA file that must have signed the certificate at `path` (kubeadm's layout and ours),
 * or undefined where there is no fixed answer (kubelet's self-signed serving cert, unknown files).
 */
export function expectedCa(path: string): string | undefined {
  if (path.startsWith("/etc/etcd/pki/")) return ETCD_CA;
  if (path.startsWith("/etc/kubernetes/pki/etcd/") || path === "/etc/kubernetes/pki/apiserver-etcd-client.crt") return KUBEADM_ETCD_CA;
  if (path === "/etc/kubernetes/pki/front-proxy-client.crt") return FRONT_PROXY_CA;
  if (/^\/etc\/kubernetes\/pki\/[^/]+\.crt$/.test(path)) return KUBERNETES_CA;
  if (/^\/etc\/kubernetes\/[^/]+\.conf$/.test(path) || path.startsWith("/var/lib/kubelet/pki/kubelet-client")) return KUBERNETES_CA;
  return undefined;
}

/** CA files that must be identical on every node that has them; paths in one group hold the same CA. */
export const SHARED_CAS: { name: string; paths: string[] }[] = [
  { name: "Kubernetes CA", paths: [KUBERNETES_CA] },
  { name: "front-proxy CA", paths: [FRONT_PROXY_CA] },
  { name: "etcd CA", paths: [KUBEADM_ETCD_CA, ETCD_CA] },
];
