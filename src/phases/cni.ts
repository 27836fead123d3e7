// Phase cni: flannel applied once from master1 with its images named by the depot and the bundle
// lock's digests; done when every node is Ready.
import { join as joinPath } from "node:path";
import { firstMaster } from "../config/types.ts";
import type { Phase, PhaseContext } from "./phase.ts";
import { render } from "../templates/render.ts";
import flannelTemplate from "../../assets/cni/flannel.yaml" with { type: "text" };
import { kubectl, nodeRows } from "../cluster/kubectl.ts";
import { KUBECTL_POLL_MS, waitFor } from "../cluster/wait.ts";
import { cniImages } from "./util/images.ts";
import { readText } from "./util/node.ts";
import { NOTHING, todo } from "./steps.ts";
import { InstallError } from "../util/errors.ts";
import { sh } from "../util/sh.ts";

/**
 * The flannel manifest with depot images named by the bundle lock's digests (<depot>/<repo>@sha256:…):
 * the kubelet pulls exactly those, whatever tag the depot's address serves (the runtime phase has
 * already pinned them on every node, so normally nothing is pulled at all).
 */
export function renderCni(ctx: PhaseContext): string {
  if (ctx.config.kubernetes.cni !== "flannel")
    throw new InstallError(`CNI ${ctx.config.kubernetes.cni} is not in this build; use kubernetes.cni: flannel`);
  const images = cniImages(ctx);
  return render(flannelTemplate, {
    clusterName: ctx.config.name,
    podSubnet: ctx.config.kubernetes.podSubnet,
    flannelImage: images.flannel.byDigest,
    cniPluginImage: images.cniPlugin.byDigest,
    iface: ctx.config.loadBalancer.interface,
  }, "flannel.yaml");
}

const cniDir = (ctx: PhaseContext) => joinPath(ctx.stateDir, "cni");
const cniApplied = (ctx: PhaseContext) => joinPath(cniDir(ctx), "applied.yaml");

export const cni: Phase = {
  name: "cni",
  title: "The CNI (flannel) applied once with depot images pinned by digest; nodes become Ready",
  hosts: (c) => [firstMaster(c)],
  mode: "once",
  async check(ctx) {
    if ((await readText(ctx.local, cniApplied(ctx))) !== renderCni(ctx)) return todo("manifest not applied or changed");
    const ds = await kubectl(ctx, sh`get daemonsets -A -o name`).catch(() => "");
    return ds.includes("kube-flannel-ds") ? NOTHING : todo("flannel DaemonSet missing");
  },
  async run(ctx) {
    const manifest = renderCni(ctx);
    await ctx.local.exec(sh`mkdir -p ${cniDir(ctx)}`);
    const pending = joinPath(cniDir(ctx), "pending.yaml");
    await ctx.local.writeFile(pending, manifest, { mode: 0o600 });
    await kubectl(ctx, sh`apply -f ${pending}`);
    await ctx.local.exec(sh`mv -f ${pending} ${cniApplied(ctx)}`);
    await waitFor("every node Ready", async () => (await nodeRows(ctx)).every((n) => n.ready), 180_000, KUBECTL_POLL_MS);
  },
};
