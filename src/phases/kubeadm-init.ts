// Phase kubeadm-init: the first control plane on master1 with the external etcd, its endpoint the VIP
// through haproxy, its images from the depot. Section 五 of the seed (the reference kubeadm HA guide),
// automated; the join secrets are made here and kept for the joins. Run from another master (master1
// gone, or being replaced: issue 16), the check asks the cluster through that master: a cluster that
// exists is never initialised again, and a wiped master1 joins it in control-plane-join instead.
import { firstMaster } from "../config/types.ts";
import type { Phase } from "./phase.ts";
import { ADMIN_CONF, vipUrl } from "../cluster/endpoints.ts";
import { POLL_MS, readyAt, waitFor } from "../cluster/wait.ts";
import { NOTHING, todo } from "./steps.ts";
import { newJoinState } from "./util/join-secrets.ts";
import { kubeadm, withInitConfig } from "./util/kubeadm.ts";
import { pinNodeImages } from "./util/images.ts";
import { sh } from "../util/sh.ts";
import { InstallError } from "../util/errors.ts";
import { withoutControlPlaneHere } from "../cluster/control-planes.ts";

export const kubeadmInit: Phase = {
  name: "kubeadm-init",
  title: "kubeadm init on master1 with external etcd, controlPlaneEndpoint = VIP:LB port, images from the depot",
  hosts: (c) => [firstMaster(c)],
  mode: "once",
  async check(ctx, node) {
    if (!(await ctx.local.readFile(ADMIN_CONF))) return todo("no control plane yet");
    if (await readyAt(ctx.local, vipUrl(ctx))) return NOTHING;
    // From another master, a cluster that does not answer is not master1's business: its own join
    // (control-plane-join) or the apiservers' recovery is, never a second init.
    return ctx.local.name === node.name ? todo(`apiserver not ready at ${vipUrl(ctx)}`) : { skip: `the cluster exists (admin.conf on ${ctx.local.name}); master1 joins it` };
  },
  async run(ctx, node) {
    if (!(await ctx.local.readFile(ADMIN_CONF))) {
      if (ctx.local.name !== node.name)
        throw new InstallError(
          `there is no cluster yet and this is ${ctx.local.name}: the first control plane is initialised on ${node.name} (master1)`,
        );
      // Defence in depth (install refuses this before any change): never a second cluster beside one.
      const notHere = await withoutControlPlaneHere(ctx);
      if (notHere) throw new InstallError(`${notHere}: kubeadm init was not run`);
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
