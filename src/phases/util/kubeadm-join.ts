// kubeadm join for the control-plane-join and worker-join phases. Secrets travel only inside a 0600
// config file that does not outlive the join, never on a command line.
import type { HostSpec } from "../../config/types.ts";
import type { PhaseContext } from "../phase.ts";
import { CA_CRT } from "../../cluster/endpoints.ts";
import { discoveryHash } from "../../pki/discovery.ts";
import { sh } from "../../util/sh.ts";
import { InstallError } from "../../util/errors.ts";
import { renderJoinConfig } from "./kubeadm-config.ts";
import { readJoinState, writeJoinState, tokenUsable, certsUsable, ttlMs, type JoinState } from "./join-secrets.ts";
import { kubeadm, withInitConfig } from "./kubeadm.ts";
import { readText } from "./node.ts";
import { pinNodeImages } from "./images.ts";

export const JOIN_CONFIG = "/etc/kubernetes/k8s-ha-offline-join.yaml";
/** A run killed during kubeadm join cannot remove the file that holds the token and the certificate key. */
export const LEFT_BEHIND = `${JOIN_CONFIG} (token and certificate key) was left by an interrupted run`;

/** Token and uploaded certificates valid for the next join; renewed on master1 when needed. */
async function joinSecrets(ctx: PhaseContext, controlPlane: boolean): Promise<JoinState> {
  const s = await readJoinState(ctx);
  if (!s) throw new InstallError(`no join secrets in ${ctx.stateDir}/join.json: kubeadm-init must run first (install --from kubeadm-init)`);
  if (!tokenUsable(s)) {
    const r = await ctx.local.exec(sh`kubeadm token create --ttl ${ctx.config.kubernetes.tokenTTL} --description 'k8s-ha-offline join'`, { secret: true, check: false });
    if (r.code !== 0) throw new Error(`kubeadm token create failed: ${r.stderr.trim()}`);
    s.token = r.stdout.trim();
    const ttl = ttlMs(ctx.config.kubernetes.tokenTTL);
    s.tokenExpiresAt = ttl ? Date.now() + ttl : 0;
    await writeJoinState(ctx, s);
  }
  if (controlPlane && !certsUsable(s)) {
    // kubeadm deleted the uploaded certificates (2 h): upload them again under the same key.
    await withInitConfig(ctx, s, (path) => kubeadm(ctx.local, sh`init phase upload-certs --upload-certs --config ${path}`, [s.token, s.certificateKey]));
    s.certsUploadedAt = Date.now();
    await writeJoinState(ctx, s);
  }
  return s;
}

async function caHash(ctx: PhaseContext): Promise<string> {
  const ca = await readText(ctx.local, CA_CRT);
  if (!ca) throw new InstallError(`${CA_CRT} is missing on master1: kubeadm-init did not finish`);
  return discoveryHash(ca);
}

/** Refusals a retry cannot fix: the same input is refused the same way. */
const REFUSALS: [RegExp, string][] = [
  [/is invalid for this cluster or it has expired/, "token"],
  [/are pinned|cluster CA found in cluster-info/, "the discovery CA hash (master1's /etc/kubernetes/pki/ca.crt is not the cluster's CA)"],
  [/unknown field|strict decoding error|no kind .* is registered/, "its configuration file"],
];
const refusal = (message: string) => REFUSALS.find(([re]) => re.test(message))?.[1];
/** The line of kubeadm's output that says why (not its closing "--v=5" advice). */
const refusalLine = (e: unknown) => {
  const lines = (e as Error).message.split("\n").map((l) => l.trim());
  return lines.find((l) => REFUSALS.some(([re]) => re.test(l))) ?? lines.at(-1) ?? "";
};

export async function joinNode(ctx: PhaseContext, node: HostSpec, controlPlane: boolean): Promise<void> {
  const host = await ctx.host(node);
  // A node that got half-way (kubelet.conf written, join failed) is reset first; external etcd is untouched by reset.
  if (await host.readFile("/etc/kubernetes/kubelet.conf")) await host.exec(sh`kubeadm reset -f`, { timeoutMs: 120_000 });
  // kubeadm join starts the kubelet but does not enable it: a node reset by remove-node and joined
  // again would otherwise stay out of the cluster after its next reboot.
  await host.exec(sh`systemctl enable kubelet.service`);
  // A control-plane join's preflight pulls kubeadm's images unless present (imagePullPolicy: IfNotPresent),
  // and the kubelet starts kube-proxy and the sandbox right after: all present and pinned beforehand.
  await pinNodeImages(ctx, host, node);
  // Once per run: the workers join in parallel, and each creating its own token (when the old one
  // expired) would be N kubeadm calls on master1 and N writes of join.json racing each other.
  const s = await ctx.once(`join-secrets/${controlPlane ? "control-plane" : "worker"}`, () => joinSecrets(ctx, controlPlane));
  const cfg = renderJoinConfig(ctx.config, node, s, await caHash(ctx), controlPlane);
  await host.exec(sh`mkdir -p /etc/kubernetes`);
  await host.writeFile(JOIN_CONFIG, cfg, { mode: 0o600 });
  try {
    // A join that failed half-way (an API call through the VIP timed out under load) is reset and
    // tried again, as an operator would; the last failure is reported.
    for (let attempt = 1; ; attempt++) {
      try {
        await kubeadm(host, sh`join --config ${JOIN_CONFIG}`, [s.token, s.certificateKey]);
        break;
      } catch (e) {
        const why = refusal((e as Error).message);
        if (why === "token") {
          // The cluster no longer knows the token (expired early, deleted by hand): forget it, so
          // the next run creates a fresh one instead of failing the same way.
          await writeJoinState(ctx, { ...s, tokenExpiresAt: 1 });
          throw new InstallError(`the cluster refused the bootstrap token (expired or deleted): ${refusalLine(e)}\nre-run install: a fresh token is created for the join`);
        }
        if (why) throw new InstallError(`kubeadm join refused ${why}: ${refusalLine(e)}`);
        if (attempt >= 3) throw e;
        ctx.log.warn(`${node.name}: kubeadm join failed (attempt ${attempt} of 3), resetting and trying again: ${(e as Error).message.split("\n").slice(-3).join(" ")}`);
        await host.exec(sh`kubeadm reset -f`, { timeoutMs: 120_000, check: false });
        await host.writeFile(JOIN_CONFIG, cfg, { mode: 0o600 });
        await Bun.sleep(5000);
      }
    }
  } finally {
    // The file holds the token and the certificate key: it does not outlive the join.
    await host.exec(sh`rm -f ${JOIN_CONFIG}`, { check: false });
  }
}
