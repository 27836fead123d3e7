// REST paths of the Kubernetes API, reduced to (groupVersion, resource, namespace, name).
export interface ResourcePath { gv: string; resource: string; namespace?: string; name?: string }

export function parsePath(pathname: string): ResourcePath | null {
  const p = pathname.split("/").filter(Boolean);
  let gv: string, rest: string[];
  if (p[0] === "api" && p[1] === "v1") (gv = "v1"), (rest = p.slice(2));
  else if (p[0] === "apis" && p.length >= 3) (gv = `${p[1]}/${p[2]}`), (rest = p.slice(3));
  else return null;
  if (rest[0] === "namespaces" && rest.length >= 3) return { gv, namespace: rest[1], resource: rest[2]!, name: rest[3] };
  if (rest.length === 1 || rest.length === 2) return { gv, resource: rest[0]!, name: rest[1] };
  return null;
}

/** Where an object lives in etcd (under /registry/standin/). */
export const objectKey = (r: { gv: string; resource: string; namespace?: string; name?: string }) =>
  `objects/${r.gv}/${r.resource}/${r.namespace ?? "-"}/${r.name ?? ""}`;

const CLUSTER_SCOPED = new Set([
  "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "StorageClass",
  "PriorityClass", "PodSecurityPolicy", "APIService", "CSIDriver", "IngressClass", "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration", "RuntimeClass", "CertificateSigningRequest",
]);

export function pluralOf(kind: string): string {
  const k = kind.toLowerCase();
  if (/[^aeiou]y$/.test(k)) return k.slice(0, -1) + "ies";
  if (/(s|x|ch|sh)$/.test(k)) return k + "es";
  return k + "s";
}

/** The REST path of a manifest object (what kubectl apply PUTs to). */
export function pathOfObject(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }, defaultNs = "default"): string {
  const base = obj.apiVersion.includes("/") ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  const res = pluralOf(obj.kind);
  if (CLUSTER_SCOPED.has(obj.kind)) return `${base}/${res}/${obj.metadata.name}`;
  return `${base}/namespaces/${obj.metadata.namespace ?? defaultNs}/${res}/${obj.metadata.name}`;
}
