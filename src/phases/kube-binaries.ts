// Phase kube-binaries: kubeadm, kubelet and kubectl from the bundle's static tarball (or the RPMs the
// packages phase installed) and the kubelet unit with kubeadm's drop-in, enabled but not started.
import { render } from "../templates/render.ts";
import kubeletUnit from "../../assets/kubelet/kubelet.service" with { type: "text" };
import kubeadmDropIn from "../../assets/kubelet/10-kubeadm.conf" with { type: "text" };
import type { PhaseContext } from "./phase.ts";
import { installUnitFile, unitState } from "../cluster/systemd.ts";
import { requireLock } from "./util/depot-files.ts";
import { installTarball, tarballInstalled } from "./util/tarball.ts";
import { readText } from "./util/node.ts";
import { NOTHING, todo, skip, stepsPhase, type Step } from "./steps.ts";
import { sh } from "../util/sh.ts";

export const kubeTarball = (ctx: Pick<PhaseContext, "lock">) => requireLock(ctx).files.find((f) => /^files\/kubernetes-node-linux-(amd64|arm64)\.tar\.gz$/.test(f.path));

/** Unpacks these tools from the Kubernetes tarball ($TARBALL) to /usr/bin (an upgrade takes kubeadm first, kubelet and kubectl after the drain). */
export const installKubeBinaries = (tools: readonly string[] = ["kubeadm", "kubelet", "kubectl"]) =>
  sh`d=$(mktemp -d); tar -xzf "$TARBALL" -C "$d"; for b in ${tools}; do install -m 0755 "$(find "$d" -name "$b" -type f | head -1)" /usr/bin/$b; done; rm -rf "$d"`;

const binaries: Step = {
  name: "kubeadm-kubelet-kubectl",
  async check(host, ctx) {
    const tgz = kubeTarball(ctx);
    if (!tgz) return skip("installed by the packages phase (RPMs)");
    return (await tarballInstalled(host, "kubernetes", tgz)) ? NOTHING : todo(`${tgz.path} not installed`);
  },
  async run(host, ctx) {
    await installTarball(host, ctx, "kubernetes", kubeTarball(ctx)!, installKubeBinaries());
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
      await host.exec(sh`mkdir -p /etc/systemd/system/kubelet.service.d`);
      for (const [p, c] of KUBELET_FILES) await installUnitFile(host, p, c);
    }
    // Enabled, not started: kubeadm init/join writes its config and starts it (as upstream packaging does).
    await host.exec(sh`systemctl enable kubelet.service`);
  },
};

export const kubeBinaries = stepsPhase({
  name: "kube-binaries",
  title: "kubeadm, kubelet, kubectl from the bundle and the kubelet unit with kubeadm's drop-in",
  hosts: (c) => c.hosts,
  steps: [binaries, kubeletService],
});
