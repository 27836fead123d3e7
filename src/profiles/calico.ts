// calico, the second CNI: which release fits which Kubernetes minor, and whether a profile's bundle
// carries it. calico tests each release against a few Kubernetes minors (docs.tigera.io, "System
// requirements", per release); no single release covers 1.22-1.31, so a bundle carries the one for its
// Kubernetes version. A profile ships calico when its images manifest (images/<profile>.yaml) lists all
// of calico's images with one tag whose release is tested against the profile's Kubernetes minor.
import { embeddedManifestsOf } from "./manifests.ts";

/** calico releases and the Kubernetes minors each is tested against, oldest first. */
export const CALICO_RELEASES: readonly { series: string; minors: readonly [number, number] }[] = [
  { series: "v3.24", minors: [22, 25] },
  { series: "v3.26", minors: [24, 27] },
  { series: "v3.28", minors: [27, 30] },
  { series: "v3.29", minors: [29, 31] },
];

/** The images the manifest (assets/cni/calico.yaml) runs, by repository on docker.io. */
export const CALICO_REPOSITORIES = ["calico/cni", "calico/node", "calico/kube-controllers"] as const;

const minorOf = (version: string) => Number(/^v?1\.(\d+)\./.exec(version)?.[1] ?? NaN);

/** Whether a calico tag (v3.24.6) is tested against a Kubernetes version (1.22.2). */
export function calicoFits(tag: string, kubernetesVersion: string): boolean {
  const minor = minorOf(kubernetesVersion);
  const release = CALICO_RELEASES.find((r) => tag === r.series || tag.startsWith(`${r.series}.`));
  return !!release && minor >= release.minors[0] && minor <= release.minors[1];
}

/** The calico tag a list of image references carries for every calico repository, or a reason why there is none. */
export function calicoIn(refs: readonly string[], kubernetesVersion: string): { tag: string } | { missing: string } {
  const tags = CALICO_REPOSITORIES.map((repo) => refs.map((r) => new RegExp(`^(docker\\.io/)?${repo}:([\\w.-]+)$`).exec(r)?.[2]).find(Boolean));
  const lacking = CALICO_REPOSITORIES.filter((_, i) => !tags[i]);
  if (lacking.length) return { missing: `its images (${lacking.join(", ")}) are not in the bundle` };
  const tag = tags[0]!;
  if (tags.some((t) => t !== tag)) return { missing: `its images have different tags (${tags.join(", ")})` };
  if (!calicoFits(tag, kubernetesVersion))
    return { missing: `calico ${tag} is not tested against Kubernetes ${kubernetesVersion} (${CALICO_RELEASES.map((r) => `${r.series}: 1.${r.minors[0]}-1.${r.minors[1]}`).join(", ")})` };
  return { tag };
}

/** The same for a profile's embedded images manifest: what a bundle built from it carries. */
export function calicoOfProfile(profile: string, kubernetesVersion: string): { tag: string } | { missing: string } {
  const m = embeddedManifestsOf(profile);
  if (!m) return { missing: `profile ${profile} is unknown` };
  return calicoIn(m.images.images.map((i) => i.ref), kubernetesVersion);
}
