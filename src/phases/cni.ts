// Phase cni: flannel (or calico) applied once from master1 with its images named by the depot and the
// bundle lock's digests and the pod network = kubernetes.podSubnet; done when every node is Ready.
import { join as joinPath } from "node:path";
import { controlPlanes } from "../config/types.ts";
import type { Phase, PhaseContext } from "./phase.ts";
import { render } from "../templates/render.ts";
import flannelTemplate from "../../assets/cni/flannel.yaml" with { type: "text" };
import calicoTemplate from "../../assets/cni/calico.yaml" with { type: "text" };
import { kubectl, nodeRows } from "../cluster/kubectl.ts";
import { KUBECTL_POLL_MS, waitFor } from "../cluster/wait.ts";
import { calicoImages, flannelImages } from "./util/images.ts";
import { requireLock } from "./util/depot-files.ts";
import { calicoIn } from "../profiles/calico.ts";
import { readText } from "./util/node.ts";
import { NOTHING, todo } from "./steps.ts";
import { InstallError } from "../util/errors.ts";
import { sh } from "../util/sh.ts";

/**
 * The CNI manifest with depot images named by the bundle lock's digests (<depot>/<repo>@sha256:…):
 * the kubelet pulls exactly those, whatever tag the depot's address serves (the runtime phase has
 * already pinned them on every node, so normally nothing is pulled at all).
 */
export function renderCni(ctx: PhaseContext): string {
  const common = { clusterName: ctx.config.name, podSubnet: ctx.config.kubernetes.podSubnet, iface: ctx.config.loadBalancer.interface };
  if (ctx.config.kubernetes.cni === "calico") {
    const lock = requireLock(ctx);
    const shipped = calicoIn(lock.images.map((i) => i.ref), ctx.config.kubernetes.version);
    if ("missing" in shipped) throw new InstallError(`calico is not in the ${lock.profile} bundle: ${shipped.missing}; use kubernetes.cni: flannel or re-assemble the bundle`);
    const images = calicoImages(ctx);
    return render(calicoTemplate, {
      ...common,
      calicoVersion: shipped.tag,
      calicoNodeImage: images.node.byDigest,
      calicoCniImage: images.cni.byDigest,
      kubeControllersImage: images.kubeControllers.byDigest,
    }, "calico.yaml");
  }
  const images = flannelImages(ctx);
  return render(flannelTemplate, { ...common, flannelImage: images.flannel.byDigest, cniPluginImage: images.cniPlugin.byDigest }, "flannel.yaml");
}

/** The DaemonSet that shows the CNI was applied. */
const cniDaemonSet = (ctx: PhaseContext) => (ctx.config.kubernetes.cni === "calico" ? "calico-node" : "kube-flannel-ds");

const cniDir = (ctx: PhaseContext) => joinPath(ctx.stateDir, "cni");
const cniApplied = (ctx: PhaseContext) => joinPath(cniDir(ctx), "applied.yaml");

export const cni: Phase = {
  name: "cni",
  title: "The CNI (flannel or calico) applied once with depot images pinned by digest and the pod subnet; nodes become Ready",
  hosts: controlPlanes,
  mode: "local",
  async check(ctx) {
    if ((await readText(ctx.local, cniApplied(ctx))) !== renderCni(ctx)) return todo("manifest not applied or changed");
    const ds = await kubectl(ctx, sh`get daemonsets -A -o name`).catch(() => "");
    // `-o name` lines are daemonset.apps/<name> (daemonset/<name> from older kubectls).
    return ds.split("\n").some((l) => l.trim().split("/").pop() === cniDaemonSet(ctx)) ? NOTHING : todo(`DaemonSet ${cniDaemonSet(ctx)} missing`);
  },
  async run(ctx) {
    const manifest = renderCni(ctx);
    await ctx.local.exec(sh`mkdir -p ${cniDir(ctx)}`);
    const pending = joinPath(cniDir(ctx), "pending.yaml");
    await ctx.local.writeFile(pending, manifest, { mode: 0o600 });
    await kubectl(ctx, sh`apply -f ${pending}`);
    await ctx.local.exec(sh`mv -f ${pending} ${cniApplied(ctx)}`);
    // Nodes left out of this run (down when it started) are not waited for.
    await waitFor("every node Ready", async () => (await nodeRows(ctx)).every((n) => n.ready || ctx.down?.has(n.name)), 180_000, KUBECTL_POLL_MS);
  },
};
