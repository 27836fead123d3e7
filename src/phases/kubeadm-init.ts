// Phase kubeadm-init: the first control plane on master1 with the external etcd, its endpoint the VIP
// through haproxy, its images from the depot. Section 五 of the seed (the reference kubeadm HA guide),
// automated; the join secrets are made here and kept for the joins.
import { firstMaster } from "../config/types.ts";
import type { Phase } from "./phase.ts";
import { ADMIN_CONF, vipUrl } from "../cluster/endpoints.ts";
import { POLL_MS, readyAt, waitFor } from "../cluster/wait.ts";
import { NOTHING, todo } from "./steps.ts";
import { newJoinState } from "./util/join-secrets.ts";
import { kubeadm, withInitConfig } from "./util/kubeadm.ts";
import { pinNodeImages } from "./util/images.ts";
import { sh } from "../util/sh.ts";

export const kubeadmInit: Phase = {
  name: "kubeadm-init",
  title: "kubeadm init on master1 with external etcd, controlPlaneEndpoint = VIP:LB port, images from the depot",
  hosts: (c) => [firstMaster(c)],
  mode: "once",
  async check(ctx) {
    if (!(await ctx.local.readFile(ADMIN_CONF))) return todo("no control plane yet");
    return (await readyAt(ctx.local, vipUrl(ctx))) ? NOTHING : todo(`apiserver not ready at ${vipUrl(ctx)}`);
  },
  async run(ctx, node) {
    if (!(await ctx.local.readFile(ADMIN_CONF))) {
      const s = await newJoinState(ctx);
      const secrets = [s.token, s.certificateKey];
      // Not `kubeadm config images pull`: it pulls every image by tag even when present. The images are
      // pinned to the lock's digests instead, and init's preflight (imagePullPolicy: IfNotPresent) finds them.
      await pinNodeImages(ctx, ctx.local, node);
      // The init configuration holds the token and the certificate key only while kubeadm reads it.
      await withInitConfig(ctx, s, async (path) => {
        await kubeadm(ctx.local, sh`init --config ${path} --upload-certs`, secrets);
      });
    } else {
      await ctx.local.exec(sh`systemctl restart kubelet.service`);
    }
    await waitFor(`the apiserver through haproxy at ${vipUrl(ctx)}/readyz`, () => readyAt(ctx.local, vipUrl(ctx)), 240_000, POLL_MS);
  },
};
