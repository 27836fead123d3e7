// Images pinned to the bundle lock (issue 15). A node's runtime pulls every image BY DIGEST from the
// depot (`<depot>/<repo>@sha256:<lock digest>`) and only then gives it the name kubeadm and the kubelet
// look for (`<depot>/google_containers/kube-apiserver:v1.22.2`). containerd and docker check what they
// fetch against the digest they asked for, so a depot — or an impostor at its address — that serves a
// tag pointing at another manifest cannot get that manifest into the store. Nothing is pulled by tag
// later: kubeadm's init/join configs say imagePullPolicy: IfNotPresent, so do its static pods and
// addons (kube-proxy, coredns), and the kubelet pulls the sandbox image only when it is absent. The CNI
// manifest names its images by digest (renderCni), so the kubelet's own pulls are pinned too.
import type { HostSpec } from "../config/types.ts";
import { hasRole } from "../config/types.ts";
import type { BundleLock, LockImage } from "../depot/lock.ts";
import { KUBEADM_NAMESPACE, parseImageRef } from "../depot/registry/reference.ts";
import type { Host } from "../hosts/host.ts";
import { InstallError } from "../util/errors.ts";
import { sh, type ShellCommand } from "../util/sh.ts";

export interface PinnedImage {
  /** The name the runtime must hold, e.g. 192.168.217.19:5000/google_containers/kube-apiserver:v1.22.2 (or byDigest itself). */
  name: string;
  /** The same repository by the lock's digest: the only reference ever pulled. */
  byDigest: string;
  /** The lock's manifest (or index) digest, "sha256:…". */
  digest: string;
  /** The upstream reference in the lock, for messages. */
  ref: string;
}

/** Images every kubelet node runs (sandbox, kube-proxy DaemonSet, coredns may land anywhere), and the control plane's static pods. */
const EVERY_NODE = ["pause", "kube-proxy", "coredns"];
const CONTROL_PLANE = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"];

const lastElement = (im: LockImage) => parseImageRef(im.ref)?.path.split("/").pop();

function parsed(im: LockImage) {
  const ref = parseImageRef(im.ref);
  if (!ref) throw new InstallError(`the bundle lock names "${im.ref}", which is not a tagged image reference; re-assemble the bundle`);
  return ref;
}

/** kubeadm's name for a lock image: <imageRepository>/<last path element>:<tag>, pinned to the lock's digest. */
function kubeadmImage(im: LockImage, depotHostPort: string): PinnedImage {
  const ref = parsed(im);
  const repo = `${depotHostPort}/${KUBEADM_NAMESPACE}/${ref.path.split("/").pop()}`;
  return { name: `${repo}:${ref.tag}`, byDigest: `${repo}@${im.digest}`, digest: im.digest, ref: im.ref };
}

/** An image by its upstream path on the depot, by digest only (what a manifest names: nothing to tag). */
export function depotImageByDigest(im: LockImage, depotHostPort: string): PinnedImage {
  const byDigest = `${depotHostPort}/${parsed(im).path}@${im.digest}`;
  return { name: byDigest, byDigest, digest: im.digest, ref: im.ref };
}

/** The one lock image whose reference matches, e.g. /\/flannel:[^/]+$/. */
export function lockImage(lock: BundleLock, pattern: RegExp, what: string): LockImage {
  const hits = lock.images.filter((i) => pattern.test(i.ref));
  if (hits.length !== 1) throw new InstallError(`the ${lock.profile} bundle has ${hits.length ? "several" : "no"} ${what} image (looked for ${pattern}); re-assemble the bundle`);
  return hits[0]!;
}

/**
 * What a node's runtime must hold before kubeadm or the kubelet run there: kubeadm's images for its
 * role (nothing for a node without a kubelet: etcd-only), plus `extra` (the CNI's images by digest).
 */
export function nodeImages(lock: BundleLock, depotHostPort: string, node: HostSpec, extra: PinnedImage[] = []): PinnedImage[] {
  const controlPlane = hasRole(node, "control-plane");
  if (!controlPlane && !hasRole(node, "worker")) return [];
  const wanted = controlPlane ? [...CONTROL_PLANE, ...EVERY_NODE] : EVERY_NODE;
  const out: PinnedImage[] = [];
  for (const name of wanted) {
    const hits = lock.images.filter((im) => lastElement(im) === name);
    if (!hits.length) throw new InstallError(`the ${lock.profile} bundle has no ${name} image, which kubeadm needs; re-assemble the bundle`);
    out.push(...hits.map((im) => kubeadmImage(im, depotHostPort)));
  }
  return [...out, ...extra];
}

/** How to reach the node's image store. */
export interface RuntimeAccess {
  runtime: "containerd" | "docker";
  /** containerd: the ctr executable and, in tests, its socket. */
  ctr?: string;
  address?: string;
  /** containerd: its root directory (config.toml `root`), where a failed download is left behind. */
  root?: string;
  /** containerd: where the runtime phase wrote hosts.toml (the depot's TLS trust and mirrors). */
  hostsDir?: string;
  /** containerd: the CRI's snapshotter (native inside a container), so the pull unpacks where the kubelet looks. */
  snapshotter?: string;
  /** The depot as the node reaches it, for messages ("the depot at …"). */
  depotUrl: string;
  /**
   * docker: every depot as ADDR:PORT in the order this node tries them (src/depot/endpoint.ts depotsFor).
   * docker's registry-mirrors only cover docker.io, so a pull of <depot>/<repo>@<digest> has no fallback
   * of its own: the installer asks each depot by its own name in turn and tags what it got.
   */
  depots?: string[];
  /** docker: the docker executable (tests put a fake one here). */
  docker?: string;
}

const CTR = "/usr/local/bin/ctr";
/** root in assets/containerd/config.toml. */
const CONTAINERD_ROOT = "/var/lib/containerd";
const HOSTS_DIR = "/etc/containerd/certs.d";

function ctr(a: RuntimeAccess, args: ShellCommand): ShellCommand {
  const address = a.address ? sh`--address ${a.address}` : sh``;
  return sh`${a.ctr ?? CTR} ${address} -n k8s.io ${args}`;
}

/** name → digest of every image in containerd's k8s.io namespace (what the kubelet sees), null when containerd does not answer. */
async function containerdImages(host: Host, a: RuntimeAccess): Promise<Map<string, string> | null> {
  const r = await host.exec(ctr(a, sh`images ls`), { check: false, timeoutMs: 60_000 });
  if (r.code !== 0) return null;
  const out = new Map<string, string>();
  // REF TYPE DIGEST SIZE PLATFORMS LABELS: the first three columns hold no spaces.
  for (const line of r.stdout.split("\n").slice(1)) {
    const [name, , digest] = line.trim().split(/\s+/);
    if (name && digest?.startsWith("sha256:")) out.set(name, digest);
  }
  return out;
}

/** The image's repository under another depot's name: 192.168.217.19:5000/x/y@sha256:… → 192.168.217.20:5000/x/y@sha256:…. */
function atDepot(byDigest: string, depot: string): string {
  return `${depot}/${byDigest.slice(byDigest.indexOf("/") + 1)}`;
}

/** The depots to ask for an image, the one its name points at first when it has no name of its own to tag. */
function dockerCandidates(im: PinnedImage, a: RuntimeAccess): string[] {
  const named = im.byDigest.slice(0, im.byDigest.indexOf("/"));
  // A digest-only name (what a CNI manifest says) cannot be given by `docker tag` (docker refuses a
  // digest as a tag): the kubelet looks for exactly <named depot>/<repo>@<digest>, so only that depot
  // can provide it. A tagged name can come from any depot and is tagged afterwards.
  if (im.name === im.byDigest) return [named];
  return [...new Set([...(a.depots ?? []), named])];
}

/**
 * docker: a name is pinned when the image it names was pulled by the lock's digest from one of the
 * depots (its RepoDigests hold <depot>/<repo>@<digest>): a retagged name points at an image without it.
 */
async function dockerPinned(host: Host, im: PinnedImage, a: RuntimeAccess): Promise<boolean> {
  const r = await host.exec(sh`${a.docker ?? "docker"} image inspect --format ${"{{json .RepoDigests}}"} ${im.name}`, { check: false, timeoutMs: 60_000 });
  if (r.code !== 0) return false;
  let digests: string[];
  try {
    digests = JSON.parse(r.stdout.trim() || "[]") ?? [];
  } catch {
    return false;
  }
  const wanted = new Set(dockerCandidates(im, a).map((d) => atDepot(im.byDigest, d)));
  return digests.some((d) => wanted.has(d));
}

/** The images whose name is missing or points at anything but the lock's digest (retagged, or never pulled). */
export async function unpinnedImages(host: Host, images: PinnedImage[], a: RuntimeAccess): Promise<PinnedImage[]> {
  if (!images.length) return [];
  if (a.runtime === "docker") {
    const ok = await Promise.all(images.map((im) => dockerPinned(host, im, a)));
    return images.filter((_, i) => !ok[i]);
  }
  const have = await containerdImages(host, a);
  return images.filter((im) => have?.get(im.name) !== im.digest);
}

/**
 * containerd's and docker's words for content other than what the digest names: a body that hashes
 * differently ("unexpected commit digest", "digest mismatch", "failed precondition", docker's "manifest
 * verification failed"), or a manifest of another kind than the one the digest was locked for.
 */
const MISMATCH = /unexpected commit digest|digest mismatch|failed precondition|verification failed|size mismatch|invalid desc|unexpected media type|expected manifest but found/i;

/** A server at the depot's address that is not the depot: a certificate of another CA (or none), or plain HTTP where TLS is configured. */
const UNTRUSTED = /x509:|certificate signed by unknown authority|tls: |server gave HTTP response to HTTPS client/i;

/**
 * containerd keeps a download whose commit failed (the impostor's bytes, complete) in its ingest
 * directory, and the next pull of that digest resumes it instead of fetching again: it would fail the
 * same way even once the depot answering is ours again (containerd issue #3974, still so in 1.6). The
 * failed download of exactly this reference is removed; nothing writes to it any more.
 */
async function dropFailedDownload(host: Host, a: RuntimeAccess, ingestRef: string): Promise<void> {
  const ingest = `${a.root ?? CONTAINERD_ROOT}/io.containerd.content.v1.content/ingest`;
  await host.exec(
    sh`for f in ${ingest}/*/ref; do [ -f "$f" ] || continue; case "$(cat "$f")" in */${ingestRef}) rm -rf "$(dirname "$f")";; esac; done`,
    { check: false, timeoutMs: 30_000 },
  );
}

/**
 * docker: pull by digest from each depot in turn (a depot that is down or unreachable is passed over;
 * one that serves other content or cannot prove itself stops the pull, as containerd's would), then tag.
 */
async function pinOneDocker(host: Host, im: PinnedImage, a: RuntimeAccess): Promise<void> {
  const docker = a.docker ?? "docker";
  const failures: string[] = [];
  for (const depot of dockerCandidates(im, a)) {
    const ref = atDepot(im.byDigest, depot);
    const r = await host.exec(sh`${docker} pull ${ref}`, { check: false, timeoutMs: 900_000 });
    if (r.code === 0) {
      if (im.name !== im.byDigest) {
        const t = await host.exec(sh`${docker} tag ${ref} ${im.name}`, { check: false, timeoutMs: 60_000 });
        if (t.code !== 0) throw new InstallError(`could not name ${ref} as ${im.name}: ${t.stderr.trim() || t.stdout.trim()}`);
      }
      return;
    }
    const text = `${r.stderr}\n${r.stdout}`.trim();
    const said = text.split("\n").filter(Boolean).at(-1) ?? `exit ${r.code}`;
    if (UNTRUSTED.test(text))
      throw new InstallError(
        `the depot at https://${depot} did not prove it is this cluster's depot while ${host.name} pulled ${im.ref} (${said}): ` +
          `check that the depot is running there and that nothing else answers at its address`,
      );
    if (MISMATCH.test(text))
      throw new InstallError(
        `image ${im.ref} from the depot at https://${depot} does not match the bundle lock (${im.digest}): the depot may not be ours — ` +
          `check that nothing else answers at its address (docker said: ${said})`,
      );
    failures.push(`${depot}: ${said}`);
  }
  throw new InstallError(`could not pull ${im.byDigest} (${im.ref}, pinned by the bundle lock) from any depot: ${failures.join("; ")}`);
}

/** Pull one image by digest and give it its name; the error says whether the depot served other content. */
async function pinOne(host: Host, im: PinnedImage, a: RuntimeAccess): Promise<void> {
  if (a.runtime === "docker") return pinOneDocker(host, im, a);
  const pull = ctr(a, sh`images pull --hosts-dir ${a.hostsDir ?? HOSTS_DIR} ${a.snapshotter ? sh`--snapshotter ${a.snapshotter}` : sh``} ${im.byDigest}`);
  for (let attempt = 1; ; attempt++) {
    const r = await host.exec(pull, { check: false, timeoutMs: 900_000 });
    if (r.code === 0) break;
    const text = `${r.stderr}\n${r.stdout}`.trim();
    const said = text.split("\n").filter(Boolean).at(-1) ?? `exit ${r.code}`;
    if (UNTRUSTED.test(text))
      throw new InstallError(
        `the depot at ${a.depotUrl} did not prove it is this cluster's depot while ${host.name} pulled ${im.ref} (${said}): ` +
          `check that master1's depot is running and that nothing else answers at its address`,
      );
    if (!MISMATCH.test(text)) throw new InstallError(`could not pull ${im.byDigest} (${im.ref}, pinned by the bundle lock) from the depot at ${a.depotUrl}: ${said}`);
    // The mismatch may be containerd resuming an earlier failed download rather than what the depot
    // serves now: drop that and try once more, so a depot that is ours again is not refused. The
    // impostor's bytes are dropped after the last try too: the node keeps nothing of them.
    const ingestRef = /failed commit on ref "([^"]+)"/.exec(text)?.[1];
    if (ingestRef) {
      await dropFailedDownload(host, a, ingestRef);
      if (attempt === 1) continue;
    }
    throw new InstallError(
      `image ${im.ref} from the depot does not match the bundle lock (${im.digest}): the depot at ${a.depotUrl} may not be ours — ` +
        `check that master1's depot is running and that nothing else answers at its address (containerd said: ${said})`,
    );
  }
  if (im.name === im.byDigest) return;
  // --force moves a name that points elsewhere (retagged by someone) back to the locked digest in one step.
  const tag = ctr(a, sh`images tag --force ${im.byDigest} ${im.name}`);
  const t = await host.exec(tag, { check: false, timeoutMs: 60_000 });
  if (t.code !== 0) throw new InstallError(`could not name ${im.byDigest} as ${im.name}: ${t.stderr.trim() || t.stdout.trim()}`);
}

/**
 * Make every image present under its name and pointing at the lock's digest; images already pinned
 * are left alone (nothing is fetched). Returns the images that were (re)pinned.
 */
export async function pinImages(host: Host, images: PinnedImage[], a: RuntimeAccess): Promise<PinnedImage[]> {
  const todo = await unpinnedImages(host, images, a);
  for (const im of todo) await pinOne(host, im, a);
  const still = await unpinnedImages(host, todo, a);
  if (still.length) throw new InstallError(`${still.map((i) => i.name).join(", ")} still not pinned to the bundle lock after pulling by digest; check ${a.runtime} on ${host.name}`);
  return todo;
}
