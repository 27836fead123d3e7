// Phase control-plane-join: every master that is not a control plane yet joins, one at a time
// (--control-plane), each with its own apiserver ready and the VIP answering through haproxy before the
// next one starts. master1 is one after kubeadm-init (nothing to do); a replaced master1 (its disk
// wiped, issue 16) joins like the others.
import { controlPlanes } from "../config/types.ts";
import type { Phase } from "./phase.ts";
import { ADMIN_CONF, apiserverUrl, vipUrl } from "../cluster/endpoints.ts";
import { POLL_MS, readyAt, waitFor } from "../cluster/wait.ts";
import { NOTHING, todo } from "./steps.ts";
import { JOIN_CONFIG, LEFT_BEHIND, joinNode } from "./util/kubeadm-join.ts";
import { sh } from "../util/sh.ts";

export const controlPlaneJoin: Phase = {
  name: "control-plane-join",
  title: "The other masters join one at a time (--control-plane), each ready behind haproxy before the next",
  hosts: controlPlanes,
  mode: "serial",
  async check(ctx, node) {
    const host = await ctx.host(node);
    if (!(await host.readFile("/etc/kubernetes/manifests/kube-apiserver.yaml")) || !(await host.readFile(ADMIN_CONF))) return todo("not joined");
    if (await host.readFile(JOIN_CONFIG)) return todo(LEFT_BEHIND);
    return (await readyAt(host, apiserverUrl(node))) ? NOTHING : todo("its apiserver is not ready");
  },
  async run(ctx, node) {
    const host = await ctx.host(node);
    if (!(await host.readFile(ADMIN_CONF))) await joinNode(ctx, node, true);
    else {
      await host.exec(sh`rm -f ${JOIN_CONFIG}`);
      if (!(await readyAt(host, apiserverUrl(node)))) await host.exec(sh`systemctl restart kubelet.service`);
    }
    await waitFor(`the apiserver of ${node.name}`, () => readyAt(host, apiserverUrl(node)), 240_000, POLL_MS);
    await waitFor(`the VIP through haproxy`, () => readyAt(host, vipUrl(ctx)), 60_000, POLL_MS);
  },
};
