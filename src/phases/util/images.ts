// The images a node's runtime must hold, pinned to the bundle lock (src/cluster/images.ts): kubeadm's
// for the node's role, and the CNI's by digest. The runtime phase pins them; kubeadm-init and the
// joins make sure again right before kubeadm runs (a pinned image costs one `ctr images ls`, no fetch).
import type { HostSpec } from "../../config/types.ts";
import type { Host } from "../../hosts/host.ts";
import type { PhaseContext } from "../phase.ts";
import { depotImageByDigest, lockImage, nodeImages, pinImages, unpinnedImages, type PinnedImage, type RuntimeAccess } from "../../cluster/images.ts";
import { depotsFor, depotUrl, endpointHostPort } from "../../depot/endpoint.ts";
import { requireLock } from "./depot-files.ts";
import { inContainer } from "./node.ts";

/** overlayfs cannot stack on the overlay root of a container: there the native snapshotter is the one that works. */
export const snapshotterOf = async (host: Host): Promise<string> => ((await inContainer(host)) ? "native" : "overlayfs");

/** The flannel manifest's images on the depot by the lock's digest: what it names, so the kubelet pulls them pinned. */
export function flannelImages(ctx: Pick<PhaseContext, "config" | "lock" | "depot">): { flannel: PinnedImage; cniPlugin: PinnedImage } {
  const lock = requireLock(ctx);
  const depot = endpointHostPort(ctx.depot);
  return {
    flannel: depotImageByDigest(lockImage(lock, /\/flannel:[^/]+$/, "flannel"), depot),
    cniPlugin: depotImageByDigest(lockImage(lock, /\/flannel-cni-plugin:[^/]+$/, "flannel-cni-plugin"), depot),
  };
}

/** The calico manifest's images (calico/node, calico/cni, calico/kube-controllers) on the depot by the lock's digest. */
export function calicoImages(ctx: Pick<PhaseContext, "config" | "lock" | "depot">): { node: PinnedImage; cni: PinnedImage; kubeControllers: PinnedImage } {
  const lock = requireLock(ctx);
  const depot = endpointHostPort(ctx.depot);
  const one = (repo: string) => depotImageByDigest(lockImage(lock, new RegExp(`(^|/)calico/${repo}:[^/]+$`), `calico/${repo}`), depot);
  return { node: one("node"), cni: one("cni"), kubeControllers: one("kube-controllers") };
}

/** The configured CNI's images, pinned by digest: what its manifest names and the runtime phase pins on every node. */
export function cniImages(ctx: Pick<PhaseContext, "config" | "lock" | "depot">): PinnedImage[] {
  return ctx.config.kubernetes.cni === "calico" ? Object.values(calicoImages(ctx)) : Object.values(flannelImages(ctx));
}

/** Everything this node's kubelet will run from the depot: kubeadm's images for its role and the CNI's. */
export function imagesOf(ctx: PhaseContext, node: HostSpec): PinnedImage[] {
  return nodeImages(requireLock(ctx), endpointHostPort(ctx.depot), node, cniImages(ctx));
}

/** The store the kubelet uses on this node: containerd's k8s.io namespace, or docker's with the docker runtime (dockershim). */
export async function runtimeAccess(ctx: PhaseContext, host: Host): Promise<RuntimeAccess> {
  if (ctx.config.kubernetes.runtime === "docker")
    return { runtime: "docker", depotUrl: depotUrl(ctx.depot), depots: depotsFor(ctx.config, host.name).map(endpointHostPort) };
  return { runtime: "containerd", snapshotter: await snapshotterOf(host), depotUrl: depotUrl(ctx.depot) };
}

export async function unpinnedNodeImages(ctx: PhaseContext, host: Host, node: HostSpec): Promise<PinnedImage[]> {
  return unpinnedImages(host, imagesOf(ctx, node), await runtimeAccess(ctx, host));
}

/** Pin what is not pinned yet (a retagged name is moved back); says so when it had to. */
export async function pinNodeImages(ctx: PhaseContext, host: Host, node: HostSpec): Promise<void> {
  const pinned = await pinImages(host, imagesOf(ctx, node), await runtimeAccess(ctx, host));
  if (pinned.length) ctx.log.info(`    ${node.name}: pinned ${pinned.map((i) => i.name).join(", ")} to the bundle lock`);
}
