// Phase worker-join: the workers join in parallel, with a fresh bootstrap token when the old one expired.
import { workers } from "../config/types.ts";
import type { Phase } from "./phase.ts";
import { unitState } from "../cluster/systemd.ts";
import { NOTHING, todo } from "./steps.ts";
import { JOIN_CONFIG, LEFT_BEHIND, joinNode } from "./util/kubeadm-join.ts";
import { sh } from "../util/sh.ts";

export const workerJoin: Phase = {
  name: "worker-join",
  title: "Workers join in parallel (a fresh token when the old one expired)",
  hosts: workers,
  mode: "parallel",
  async check(ctx, node) {
    const host = await ctx.host(node);
    if (!(await host.readFile("/etc/kubernetes/kubelet.conf"))) return todo("not joined");
    if (await host.readFile(JOIN_CONFIG)) return todo(LEFT_BEHIND);
    const kubelet = await unitState(host, "kubelet.service");
    return kubelet.active && kubelet.enabled ? NOTHING : todo(`kubelet not ${kubelet.active ? "enabled" : "running"}`);
  },
  async run(ctx, node) {
    const host = await ctx.host(node);
    if (!(await host.readFile("/etc/kubernetes/kubelet.conf"))) await joinNode(ctx, node, false);
    else {
      await host.exec(sh`rm -f ${JOIN_CONFIG}`);
      const kubelet = await unitState(host, "kubelet.service");
      if (!kubelet.active || !kubelet.enabled) await host.exec(sh`systemctl enable kubelet.service && systemctl restart kubelet.service`);
    }
  },
};
