// What a real apiserver of the stand-in's version would refuse in `kubectl apply`, beyond a document
// without apiVersion/kind/name: a built-in group/version it does not serve (extensions/v1beta1 after
// 1.16, policy/v1beta1 after 1.24 …), a kind of a group no CustomResourceDefinition defines (kubectl's
// "no matches for kind … ensure CRDs are installed first"), a CRD whose name is not <plural>.<group>,
// and an apps/v1 workload whose selector does not select its own pod template.
import { parseVersion } from "./versions.ts";

/** Built-in group/versions with the minors that serve them (inclusive; undefined: still served). */
const BUILTIN: Record<string, [number, number?]> = {
  v1: [0],
  "apps/v1": [9],
  "batch/v1": [0],
  "batch/v1beta1": [8, 24],
  "autoscaling/v1": [0],
  "autoscaling/v2": [23],
  "rbac.authorization.k8s.io/v1": [8],
  "policy/v1": [21],
  "policy/v1beta1": [0, 24],
  "networking.k8s.io/v1": [8],
  "discovery.k8s.io/v1": [21],
  "storage.k8s.io/v1": [0],
  "scheduling.k8s.io/v1": [14],
  "coordination.k8s.io/v1": [14],
  "node.k8s.io/v1": [20],
  "certificates.k8s.io/v1": [19],
  "admissionregistration.k8s.io/v1": [16],
  "apiextensions.k8s.io/v1": [16],
  "apiregistration.k8s.io/v1": [10],
};

const served = (gv: string, minor: number) => {
  const r = BUILTIN[gv];
  return !!r && minor >= r[0] && (r[1] === undefined || minor <= r[1]);
};
const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.split("/")[0]! : "");
const isBuiltinGroup = (group: string) => group === "" || Object.keys(BUILTIN).some((gv) => groupOf(gv) === group);

/** group/version → kinds the CRDs define, from CRD objects (those already in the API and those of the same file). */
export function crdKinds(crds: any[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const c of crds)
    for (const v of c?.spec?.versions ?? []) {
      if (v?.served === false) continue;
      const gv = `${c.spec.group}/${v.name}`;
      (out.get(gv) ?? out.set(gv, new Set()).get(gv)!).add(c.spec?.names?.kind);
    }
  return out;
}

const matches = (selector: any, labels: any) =>
  !!selector?.matchLabels && Object.keys(selector.matchLabels).length > 0 && Object.entries(selector.matchLabels).every(([k, v]) => labels?.[k] === v);

/** The reason a real apiserver (or kubectl's mapping) refuses this object, or null. */
export function refusal(o: any, file: string, version: string, kinds: Map<string, Set<string>>): string | null {
  const minor = parseVersion(version).minor;
  const where = `name: "${o.metadata.name}" namespace: "${o.metadata.namespace ?? ""}" from "${file}"`;
  const group = groupOf(o.apiVersion);
  const known = isBuiltinGroup(group) ? served(o.apiVersion, minor) : kinds.get(o.apiVersion)?.has(o.kind);
  if (!known) return `error: resource mapping not found for ${where}: no matches for kind "${o.kind}" in version "${o.apiVersion}"\nensure CRDs are installed first`;
  if (o.kind === "CustomResourceDefinition") {
    const s = o.spec ?? {};
    if (!s.group || !s.names?.plural || !s.names?.kind || !Array.isArray(s.versions) || !s.versions.length || !["Cluster", "Namespaced"].includes(s.scope))
      return `The CustomResourceDefinition "${o.metadata.name}" is invalid: spec.group, spec.names.plural, spec.names.kind, spec.scope (Cluster or Namespaced) and spec.versions are required`;
    if (o.metadata.name !== `${s.names.plural}.${s.group}`)
      return `The CustomResourceDefinition "${o.metadata.name}" is invalid: metadata.name: Invalid value: "${o.metadata.name}": must be spec.names.plural+"."+spec.group`;
    if (s.versions.filter((v: any) => v?.storage).length !== 1) return `The CustomResourceDefinition "${o.metadata.name}" is invalid: spec.versions: Invalid value: must have exactly one version marked as storage version`;
  }
  if (o.apiVersion === "apps/v1" && ["DaemonSet", "Deployment", "StatefulSet", "ReplicaSet"].includes(o.kind)) {
    const labels = o.spec?.template?.metadata?.labels;
    if (!o.spec?.selector) return `The ${o.kind} "${o.metadata.name}" is invalid: spec.selector: Required value`;
    if (!matches(o.spec.selector, labels))
      return `The ${o.kind} "${o.metadata.name}" is invalid: spec.template.metadata.labels: Invalid value: ${JSON.stringify(labels ?? {})}: \`selector\` does not match template \`labels\``;
    const containers = o.spec?.template?.spec?.containers;
    if (!Array.isArray(containers) || !containers.length || containers.some((c: any) => !c?.name || !c?.image))
      return `The ${o.kind} "${o.metadata.name}" is invalid: spec.template.spec.containers: Required value (every container needs a name and an image)`;
  }
  return null;
}
