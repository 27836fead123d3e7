// Who is calling: a client certificate verified against --client-ca-file, a bootstrap token, or nobody.
// Then a small RBAC that grants what kubeadm's default roles grant.
import type { Etcd } from "../lib/etcd.ts";
import { TOKEN_RE } from "../config/values.ts";
import type { ResourcePath } from "./paths.ts";

export interface UserInfo { name: string; groups: string[] }

export const ANONYMOUS: UserInfo = { name: "system:anonymous", groups: ["system:unauthenticated"] };

export interface TokenSecret {
  metadata: { name: string; namespace: string };
  type: "bootstrap.kubernetes.io/token";
  stringData: Record<string, string>;
}

export const tokenExpired = (s: TokenSecret, now = Date.now()) => !!s.stringData.expiration && Date.parse(s.stringData.expiration) <= now;

export async function userFromToken(etcd: Etcd, bearer: string): Promise<UserInfo | null> {
  const m = TOKEN_RE.exec(bearer);
  if (!m) return null;
  const s = await etcd.get1<TokenSecret>(`objects/v1/secrets/kube-system/bootstrap-token-${m[1]}`);
  if (!s || s.stringData["token-secret"] !== m[2] || tokenExpired(s) || s.stringData["usage-bootstrap-authentication"] !== "true") return null;
  const extra = (s.stringData["auth-extra-groups"] ?? "").split(",").filter(Boolean);
  return { name: `system:bootstrap:${m[1]}`, groups: ["system:bootstrappers", ...extra, "system:authenticated"] };
}

const isAdmin = (u: UserInfo) => u.groups.includes("system:masters") || u.groups.includes("kubeadm:cluster-admins");

/** null when allowed, else the reason in the apiserver's wording. */
export function forbidden(u: UserInfo, verb: string, r: ResourcePath): string | null {
  if (isAdmin(u)) return null;
  const read = verb === "get" || verb === "list";
  const nodeName = u.name.startsWith("system:node:") ? u.name.slice("system:node:".length) : null;
  const ok =
    (read && r.resource === "configmaps" && r.namespace === "kube-public" && r.name === "cluster-info") ||
    (u.groups.includes("system:bootstrappers") &&
      ((read && r.resource === "configmaps" && r.namespace === "kube-system" && (r.name === "kubeadm-config" || r.name?.startsWith("kubelet-config"))) ||
        (verb === "get" && r.resource === "secrets" && r.namespace === "kube-system" && r.name === "kubeadm-certs") ||
        (verb === "get" && r.resource === "nodes") ||
        (verb === "create" && r.resource === "certificatesigningrequests"))) ||
    (nodeName !== null &&
      ((read && ["nodes", "pods", "configmaps"].includes(r.resource)) ||
        (r.resource === "nodes" && r.name === nodeName && ["create", "patch"].includes(verb)) ||
        (verb === "create" && r.resource === "certificatesigningrequests")));
  if (ok) return null;
  const group = r.gv.includes("/") ? r.gv.split("/")[0] : "";
  const scope = r.namespace ? `in the namespace "${r.namespace}"` : "at the cluster scope";
  return `${r.resource}${r.name ? ` "${r.name}"` : ""} is forbidden: User "${u.name}" cannot ${verb} resource "${r.resource}" in API group "${group}" ${scope}`;
}
