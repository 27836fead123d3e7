// Phases kube-binaries, kubeadm-init, control-plane-join, worker-join, cni and post: sections 五
// onwards of the reference guide (../shared/seed/, a Chinese kubeadm HA guide), automated. Secrets travel only inside 0600 config files, never on a command line.
import { join as joinPath } from "node:path";
import type { HostSpec } from "../../config/types.ts";
import { controlPlanes, workers, firstMaster } from "../../config/types.ts";
import type { Host } from "../../hosts/host.ts";
import type { Phase, PhaseContext } from "../phase.ts";
import { render } from "../../templates/render.ts";
import kubeletUnit from "../../../assets/kubelet/kubelet.service" with { type: "text" };
import kubeadmDropIn from "../../../assets/kubelet/10-kubeadm.conf" with { type: "text" };
import flannelTemplate from "../../../assets/cni/flannel.yaml" with { type: "text" };
import { installUnitFile, unitState, waitFor } from "../util/systemd.ts";
import { requireLock } from "../util/depot-files.ts";
import { installTarball, tarballInstalled } from "../util/tarball.ts";
import { NOTHING, todo, skip, stepsPhase, type Step } from "../steps.ts";
import { depotHost } from "../runtime.ts";
import { discoveryHash } from "../../pki/discovery.ts";
import { redact } from "../../util/log.ts";
import { renderInitConfig, renderJoinConfig } from "./kubeadm-config.ts";
import { readJoinState, writeJoinState, newJoinState, tokenUsable, certsUsable, ttlMs, type JoinState } from "./join-secrets.ts";
import { ADMIN_CONF, CA_CRT, kubectl, readyAt, vipUrl, nodeRows, systemPods } from "./cluster-api.ts";
import { InstallError } from "../../util/errors.ts";
import { readText } from "../util/node.ts";

const imageRepository = (ctx: PhaseContext) => `${depotHost(ctx)}/google_containers`;
const initConfigPath = (ctx: PhaseContext) => joinPath(ctx.stateDir, "kubeadm", "init.yaml");
const JOIN_CONFIG = "/etc/kubernetes/k8s-ha-offline-join.yaml";
/** A run killed during kubeadm join cannot remove the file that holds the token and the certificate key. */
const LEFT_BEHIND = `${JOIN_CONFIG} (token and certificate key) was left by an interrupted run`;

/** Run kubeadm with output kept out of the logs (it prints the certificate key); failures are redacted. */
async function kubeadm(host: Host, args: string, secrets: string[], timeoutMs = 600_000): Promise<void> {
  const r = await host.exec(`kubeadm ${args}`, { check: false, secret: true, timeoutMs });
  if (r.code !== 0) {
    const tail = redact(`${r.stdout}\n${r.stderr}`.trim(), secrets).split("\n").slice(-20).join("\n");
    throw new Error(`kubeadm ${args.split(" ")[0]} failed on ${host.name}:\n${tail}`);
  }
}

// ---- kube-binaries -------------------------------------------------------------------------

const kubeTarball = (ctx: PhaseContext) => requireLock(ctx).files.find((f) => /^files\/kubernetes-node-linux-(amd64|arm64)\.tar\.gz$/.test(f.path));

const binaries: Step = {
  name: "kubeadm-kubelet-kubectl",
  async check(host, ctx) {
    const tgz = kubeTarball(ctx);
    if (!tgz) return skip("installed by the packages phase (RPMs)");
    return (await tarballInstalled(host, "kubernetes", tgz)) ? NOTHING : todo(`${tgz.path} not installed`);
  },
  async run(host, ctx) {
    await installTarball(host, ctx, "kubernetes", kubeTarball(ctx)!,
      `d=$(mktemp -d); tar -xzf "$TARBALL" -C "$d"; for b in kubeadm kubelet kubectl; do install -m 0755 "$(find "$d" -name $b -type f | head -1)" /usr/bin/$b; done; rm -rf "$d"`);
  },
};

const KUBELET_FILES: [string, string][] = [
  ["/etc/systemd/system/kubelet.service", render(kubeletUnit, {}, "kubelet.service")],
  ["/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", render(kubeadmDropIn, {}, "10-kubeadm.conf")],
];

const kubeletService: Step = {
  name: "kubelet.service",
  async check(host, ctx) {
    if (!kubeTarball(ctx)) return (await unitState(host, "kubelet.service")).enabled ? NOTHING : todo("kubelet not enabled");
    for (const [p, c] of KUBELET_FILES) if ((await readText(host, p)) !== c) return todo(`${p} missing or different`);
    return (await unitState(host, "kubelet.service")).enabled ? NOTHING : todo("kubelet not enabled");
  },
  async run(host, ctx) {
    if (kubeTarball(ctx)) {
      await host.exec("mkdir -p /etc/systemd/system/kubelet.service.d");
      for (const [p, c] of KUBELET_FILES) await installUnitFile(host, p, c);
    }
    // Enabled, not started: kubeadm init/join writes its config and starts it (as upstream packaging does).
    await host.exec("systemctl enable kubelet.service");
  },
};

export const kubeBinaries = stepsPhase({
  name: "kube-binaries",
  title: "kubeadm, kubelet, kubectl from the bundle and the kubelet unit with kubeadm's drop-in",
  hosts: (c) => c.hosts,
  steps: [binaries, kubeletService],
});

// ---- kubeadm-init ---------------------------------------------------------------------------

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
      const cfg = renderInitConfig(ctx.config, node, s, imageRepository(ctx));
      await ctx.local.exec(`mkdir -p ${joinPath(ctx.stateDir, "kubeadm")} && chmod 700 ${joinPath(ctx.stateDir, "kubeadm")}`);
      await ctx.local.writeFile(initConfigPath(ctx), cfg, { mode: 0o600 });
      const secrets = [s.token, s.certificateKey];
      await kubeadm(ctx.local, `config images pull --config ${initConfigPath(ctx)}`, secrets);
      await kubeadm(ctx.local, `init --config ${initConfigPath(ctx)} --upload-certs`, secrets);
    } else {
      await ctx.local.exec("systemctl restart kubelet.service");
    }
    await waitFor(`the apiserver through haproxy at ${vipUrl(ctx)}/readyz`, () => readyAt(ctx.local, vipUrl(ctx)), 240_000, 2000);
  },
};

// ---- joins ----------------------------------------------------------------------------------

/** Token and uploaded certificates valid for the next join; renewed on master1 when needed. */
async function joinSecrets(ctx: PhaseContext, controlPlane: boolean): Promise<JoinState> {
  const s = await readJoinState(ctx);
  if (!s) throw new InstallError(`no join secrets in ${ctx.stateDir}/join.json: kubeadm-init must run first (install --from kubeadm-init)`);
  if (!tokenUsable(s)) {
    const r = await ctx.local.exec(`kubeadm token create --ttl ${ctx.config.kubernetes.tokenTTL} --description 'k8s-ha-offline join'`, { secret: true, check: false });
    if (r.code !== 0) throw new Error(`kubeadm token create failed: ${r.stderr.trim()}`);
    s.token = r.stdout.trim();
    const ttl = ttlMs(ctx.config.kubernetes.tokenTTL);
    s.tokenExpiresAt = ttl ? Date.now() + ttl : 0;
    await writeJoinState(ctx, s);
  }
  if (controlPlane && !certsUsable(s)) {
    // kubeadm deleted the uploaded certificates (2 h): upload them again under the same key.
    await ctx.local.writeFile(initConfigPath(ctx), renderInitConfig(ctx.config, firstMaster(ctx.config), s, imageRepository(ctx)), { mode: 0o600 });
    await kubeadm(ctx.local, `init phase upload-certs --upload-certs --config ${initConfigPath(ctx)}`, [s.token, s.certificateKey]);
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

async function joinNode(ctx: PhaseContext, node: HostSpec, controlPlane: boolean): Promise<void> {
  const host = await ctx.host(node);
  // A node that got half-way (kubelet.conf written, join failed) is reset first; external etcd is untouched by reset.
  if (await host.readFile("/etc/kubernetes/kubelet.conf")) await host.exec("kubeadm reset -f", { timeoutMs: 120_000 });
  // kubeadm join starts the kubelet but does not enable it: a node reset by remove-node and joined
  // again would otherwise stay out of the cluster after its next reboot.
  await host.exec("systemctl enable kubelet.service");
  const s = await joinSecrets(ctx, controlPlane);
  const cfg = renderJoinConfig(ctx.config, node, s, await caHash(ctx), controlPlane);
  await host.exec("mkdir -p /etc/kubernetes");
  await host.writeFile(JOIN_CONFIG, cfg, { mode: 0o600 });
  try {
    // A join that failed half-way (an API call through the VIP timed out under load) is reset and
    // tried again, as an operator would; the last failure is reported.
    for (let attempt = 1; ; attempt++) {
      try {
        await kubeadm(host, `join --config ${JOIN_CONFIG}`, [s.token, s.certificateKey]);
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
        await host.exec("kubeadm reset -f", { timeoutMs: 120_000, check: false });
        await host.writeFile(JOIN_CONFIG, cfg, { mode: 0o600 });
        await Bun.sleep(5000);
      }
    }
  } finally {
    // The file holds the token and the certificate key: it does not outlive the join.
    await host.exec(`rm -f ${JOIN_CONFIG}`, { check: false });
  }
}

export const controlPlaneJoin: Phase = {
  name: "control-plane-join",
  title: "The other masters join one at a time (--control-plane), each ready behind haproxy before the next",
  hosts: (c) => controlPlanes(c).slice(1),
  mode: "serial",
  async check(ctx, node) {
    const host = await ctx.host(node);
    if (!(await host.readFile("/etc/kubernetes/manifests/kube-apiserver.yaml")) || !(await host.readFile(ADMIN_CONF))) return todo("not joined");
    if (await host.readFile(JOIN_CONFIG)) return todo(LEFT_BEHIND);
    return (await readyAt(host, `https://${node.address}:6443`)) ? NOTHING : todo("its apiserver is not ready");
  },
  async run(ctx, node) {
    const host = await ctx.host(node);
    if (!(await host.readFile(ADMIN_CONF))) await joinNode(ctx, node, true);
    else {
      await host.exec(`rm -f ${JOIN_CONFIG}`);
      if (!(await readyAt(host, `https://${node.address}:6443`))) await host.exec("systemctl restart kubelet.service");
    }
    await waitFor(`the apiserver of ${node.name}`, () => readyAt(host, `https://${node.address}:6443`), 240_000, 2000);
    await waitFor(`the VIP through haproxy`, () => readyAt(host, vipUrl(ctx)), 60_000, 1000);
  },
};

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
      await host.exec(`rm -f ${JOIN_CONFIG}`);
      const kubelet = await unitState(host, "kubelet.service");
      if (!kubelet.active || !kubelet.enabled) await host.exec("systemctl enable kubelet.service && systemctl restart kubelet.service");
    }
  },
};

// ---- cni ------------------------------------------------------------------------------------

/** The flannel manifest with depot image names only. */
export function renderCni(ctx: PhaseContext): string {
  if (ctx.config.kubernetes.cni !== "flannel")
    throw new InstallError(`CNI ${ctx.config.kubernetes.cni} is not in this build; use kubernetes.cni: flannel`);
  const images = requireLock(ctx).images.map((i) => i.ref);
  const depotName = (re: RegExp, what: string) => {
    const ref = images.find((r) => re.test(r));
    if (!ref) throw new InstallError(`the bundle has no ${what} image; re-assemble the bundle`);
    return `${depotHost(ctx)}/${ref.replace(/^(docker\.io|quay\.io|ghcr\.io|registry\.k8s\.io)\//, "")}`;
  };
  return render(flannelTemplate, {
    clusterName: ctx.config.name,
    podSubnet: ctx.config.kubernetes.podSubnet,
    flannelImage: depotName(/\/flannel:[^/]+$/, "flannel"),
    cniPluginImage: depotName(/\/flannel-cni-plugin:[^/]+$/, "flannel-cni-plugin"),
    iface: ctx.config.loadBalancer.interface,
  }, "flannel.yaml");
}

const cniApplied = (ctx: PhaseContext) => joinPath(ctx.stateDir, "cni", "applied.yaml");

export const cni: Phase = {
  name: "cni",
  title: "The CNI (flannel) applied once with depot image names; nodes become Ready",
  hosts: (c) => [firstMaster(c)],
  mode: "once",
  async check(ctx) {
    if ((await readText(ctx.local, cniApplied(ctx))) !== renderCni(ctx)) return todo("manifest not applied or changed");
    const ds = await kubectl(ctx, "get daemonsets -A -o name").catch(() => "");
    return ds.includes("kube-flannel-ds") ? NOTHING : todo("flannel DaemonSet missing");
  },
  async run(ctx) {
    const manifest = renderCni(ctx);
    await ctx.local.exec(`mkdir -p ${joinPath(ctx.stateDir, "cni")}`);
    const pending = joinPath(ctx.stateDir, "cni", "pending.yaml");
    await ctx.local.writeFile(pending, manifest, { mode: 0o600 });
    await kubectl(ctx, `apply -f ${pending}`);
    await ctx.local.exec(`mv -f ${pending} ${cniApplied(ctx)}`);
    await waitFor("every node Ready", async () => (await nodeRows(ctx)).every((n) => n.ready), 180_000, 2000);
  },
};

// ---- post -----------------------------------------------------------------------------------

/** kubeadm <= 1.22 writes --port=0, which breaks `kubectl get cs` (附3 of the reference guide). */
const needsPortFix = (ctx: PhaseContext) => Number(ctx.config.kubernetes.version.split(".")[1]) <= 22;
const PORT_FIX_FILES = ["/etc/kubernetes/manifests/kube-controller-manager.yaml", "/etc/kubernetes/manifests/kube-scheduler.yaml"];

export function clusterTable(nodes: Awaited<ReturnType<typeof nodeRows>>, pods: Awaited<ReturnType<typeof systemPods>>): string {
  const n = nodes.map((r) => `  ${r.name.padEnd(12)} ${(r.ready ? "Ready" : "NotReady").padEnd(9)} ${r.roles.padEnd(22)} ${r.version}`);
  const p = pods.map((r) => `  ${r.namespace.padEnd(13)} ${r.name.padEnd(40)} ${r.phase.padEnd(8)} ${r.node}`);
  return [`NODES`, ...n, `SYSTEM PODS`, ...p].join("\n");
}

/**
 * Every host of the config is a Ready node and every system pod on them runs. Nodes the config does
 * not name (joined by hand, or not yet removed) are shown in the table but do not block the install.
 */
async function clusterUp(ctx: PhaseContext): Promise<boolean> {
  const names = new Set(ctx.config.hosts.map((h) => h.name));
  const ready = new Set((await nodeRows(ctx)).filter((n) => n.ready).map((n) => n.name));
  const pods = (await systemPods(ctx)).filter((p) => !p.node || names.has(p.node));
  return [...names].every((n) => ready.has(n)) && pods.every((p) => p.phase === "Running");
}

export const post: Phase = {
  name: "post",
  title: "Admin kubeconfig for root on master1, the 1.22 componentstatus fix, every node Ready and system pod Running",
  hosts: (c) => [firstMaster(c)],
  mode: "once",
  async check(ctx) {
    if ((await readText(ctx.local, "/root/.kube/config")) !== (await readText(ctx.local, ADMIN_CONF))) return todo("root has no kubeconfig");
    if (needsPortFix(ctx))
      for (const m of controlPlanes(ctx.config))
        for (const f of PORT_FIX_FILES) if ((await readText(await ctx.host(m), f))?.includes("--port=0")) return todo(`${m.name}: ${f} has --port=0`);
    return (await clusterUp(ctx)) ? NOTHING : todo("cluster not fully up yet");
  },
  async run(ctx) {
    await ctx.local.exec("mkdir -p /root/.kube && chmod 700 /root/.kube");
    await ctx.local.writeFile("/root/.kube/config", (await readText(ctx.local, ADMIN_CONF)) ?? "", { mode: 0o600 });
    if (needsPortFix(ctx))
      for (const m of controlPlanes(ctx.config)) {
        const host = await ctx.host(m);
        for (const f of PORT_FIX_FILES) {
          const cur = await readText(host, f);
          if (cur?.includes("--port=0")) await host.writeFile(f, cur.replace(/^\s*- --port=0\n/m, ""), { mode: 0o600 });
        }
      }
    try {
      await waitFor("every node of the config Ready and every system pod Running", () => clusterUp(ctx), 180_000, 2000);
    } finally {
      ctx.log.info(clusterTable(await nodeRows(ctx), await systemPods(ctx)));
    }
  },
};
