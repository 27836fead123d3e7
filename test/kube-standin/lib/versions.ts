// What real kubeadm bakes in per minor version: which config API it speaks, and its image tags.
import { fail } from "./errors.ts";

export interface Semver { major: number; minor: number; patch: number; text: string }

export function parseVersion(v: string, where = "version"): Semver {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
  if (!m) return fail(`${where}: invalid version "${v}": expected MAJOR.MINOR.PATCH such as v1.22.2`);
  return { major: +m[1]!, minor: +m[2]!, patch: +m[3]!, text: `v${m[1]}.${m[2]}.${m[3]}` };
}

/** The kubeadm config API a version requires (the stand-in is stricter than kubeadm, which still reads the older one with a warning). */
export const kubeadmApiFor = (v: Semver) => (v.minor >= 31 ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3");

// From kubeadm's cmd/kubeadm/app/constants for each release line.
const PER_MINOR: Record<number, { pause: string; coredns: string; etcd: string }> = {
  22: { pause: "3.5", coredns: "v1.8.4", etcd: "3.5.0-0" },
  23: { pause: "3.6", coredns: "v1.8.6", etcd: "3.5.1-0" },
  24: { pause: "3.7", coredns: "v1.8.6", etcd: "3.5.3-0" },
  25: { pause: "3.8", coredns: "v1.9.3", etcd: "3.5.4-0" },
  26: { pause: "3.9", coredns: "v1.9.3", etcd: "3.5.6-0" },
  27: { pause: "3.9", coredns: "v1.10.1", etcd: "3.5.7-0" },
  28: { pause: "3.9", coredns: "v1.10.1", etcd: "3.5.9-0" },
  29: { pause: "3.9", coredns: "v1.11.1", etcd: "3.5.10-0" },
  30: { pause: "3.9", coredns: "v1.11.1", etcd: "3.5.12-0" },
  31: { pause: "3.10", coredns: "v1.11.3", etcd: "3.5.15-0" },
  32: { pause: "3.10", coredns: "v1.11.3", etcd: "3.5.16-0" },
  33: { pause: "3.10", coredns: "v1.12.0", etcd: "3.5.21-0" },
};

export function componentTags(v: Semver) {
  const t = PER_MINOR[v.minor];
  if (v.major !== 1 || !t) return fail(`kubernetes version ${v.text} is not known to this stand-in (it knows 1.22 to 1.33)`);
  return t;
}

/** Real kubeadm's default registry; the coredns path differs only when it is used. */
export const defaultImageRepository = (v: Semver) => (v.minor >= 25 ? "registry.k8s.io" : "k8s.gcr.io");

export interface ImageListInput {
  version: Semver;
  imageRepository: string;
  externalEtcd: boolean;
}

/** `kubeadm config images list` for that configuration, in kubeadm's order. */
export function imageList({ version, imageRepository: repo, externalEtcd }: ImageListInput): string[] {
  const t = componentTags(version);
  const images = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"].map((c) => `${repo}/${c}:${version.text}`);
  images.push(`${repo}/pause:${t.pause}`);
  if (!externalEtcd) images.push(`${repo}/etcd:${t.etcd}`);
  const isDefault = repo === "k8s.gcr.io" || repo === "registry.k8s.io";
  images.push(isDefault ? `${repo}/coredns/coredns:${t.coredns}` : `${repo}/coredns:${t.coredns}`);
  return images;
}
