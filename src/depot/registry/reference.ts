// Image references as written in the bundle (org.opencontainers.image.ref.name), and the
// repository names the depot serves them under.

/** Repository path grammar of the OCI distribution spec. */
const NAME_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const SHA256_DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
/** Any well-formed digest (algorithm:encoded), even one we do not store. */
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** The repository namespace kubeadm's imageRepository points at (<depot>/google_containers), as in the reference guide (../shared/seed/). */
export const KUBEADM_NAMESPACE = "google_containers";

export interface ImageRef {
  /** Registry host, docker.io when the reference named none. */
  domain: string;
  /** Path without the registry host, library/ added for docker.io single names. */
  path: string;
  tag: string;
}

export const isValidName = (name: string): boolean => name.length <= 255 && NAME_RE.test(name);
export const isValidTag = (tag: string): boolean => TAG_RE.test(tag);
export const isSha256Digest = (d: string): boolean => SHA256_DIGEST_RE.test(d);
export const looksLikeDigest = (d: string): boolean => d.includes(":");
export const isWellFormedDigest = (d: string): boolean => {
  if (!DIGEST_RE.test(d)) return false;
  // Registered algorithms have fixed lengths; a sha256 digest of another length is malformed, not unknown.
  const [alg, enc] = d.split(":", 2) as [string, string];
  if (alg === "sha256") return /^[a-f0-9]{64}$/.test(enc);
  if (alg === "sha512") return /^[a-f0-9]{128}$/.test(enc);
  return true;
};

/** Parse "registry.k8s.io/kube-apiserver:v1.22.2" or "flannel/flannel:v0.22.0" (docker.io implied). Null when not a tagged reference. */
export function parseImageRef(ref: string): ImageRef | null {
  const at = ref.indexOf("@");
  const withoutDigest = at === -1 ? ref : ref.slice(0, at);
  const colon = withoutDigest.lastIndexOf(":");
  const slash = withoutDigest.lastIndexOf("/");
  if (colon === -1 || colon < slash) return null; // no tag
  const repo = withoutDigest.slice(0, colon);
  const tag = withoutDigest.slice(colon + 1);
  const first = repo.split("/")[0]!;
  const hasDomain = repo.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  const domain = hasDomain ? first : "docker.io";
  let path = hasDomain ? repo.slice(first.length + 1) : repo;
  if (domain === "docker.io" && !path.includes("/")) path = `library/${path}`;
  if (!isValidName(path) || !isValidTag(tag)) return null;
  return { domain, path, tag };
}

/** Every repository name an image is served under: its upstream path (for containerd mirrors) and google_containers/<last element> (for kubeadm). */
export function servedNames(ref: ImageRef): string[] {
  const last = ref.path.split("/").pop()!;
  const alias = `${KUBEADM_NAMESPACE}/${last}`;
  return alias === ref.path ? [ref.path] : [ref.path, alias];
}
