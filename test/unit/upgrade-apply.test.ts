// upgrade apply's node steps against scripted hosts: the commands in order (new kubeadm, kubeadm upgrade
// apply on the first master / upgrade node elsewhere, drain, kubelet and kubectl, restart until the node
// reports the target, uncordon), each step recorded in upgrade.json, and a run that stopped at a step
// resuming there without repeating what finished.
import { describe, expect, test } from "bun:test";
import { seedConfig } from "./support/seed-config.ts";
import { UpgradeRecord, upgradeNode } from "../../src/ops/upgrade/apply.ts";
import { readUpgradeState } from "../../src/ops/upgrade/state.ts";
import { imagesOf } from "../../src/phases/util/images.ts";
import { depotEndpoint } from "../../src/depot/endpoint.ts";
import type { BundleLock, LockFile } from "../../src/depot/lock.ts";
import type { PhaseContext } from "../../src/phases/phase.ts";
import type { HostSpec } from "../../src/config/types.ts";
import type { ExecOptions, ExecResult, Host, WriteOptions } from "../../src/hosts/host.ts";
import type { ShellCommand } from "../../src/util/sh.ts";

const config = seedConfig([[/profile: el7-k8s1\.22/, "profile: debian12"]]);
const TO = "v1.23.17";
const sha = (c: string) => c.repeat(64);
const f = (path: string, s: string, kind: LockFile["kind"] = "file"): LockFile => ({ path, size: 1, sha256: sha(s), kind });
const IMAGES = ["kube-apiserver:v1.23.17", "kube-controller-manager:v1.23.17", "kube-scheduler:v1.23.17", "kube-proxy:v1.23.17", "pause:3.6", "coredns/coredns:v1.8.6"];
const lock: BundleLock = {
  profile: "debian12", kubernetesVersion: "1.23.17", created: "2026-12-01T00:00:00Z",
  files: [f("files/kubernetes-node-linux-amd64.tar.gz", "b"), ...[...IMAGES, "flannel:v0.15.1", "flannel-cni-plugin:v1.0.0"].map((_, i) => f(`images/${i}.tar`, "c", "image"))],
  images: [...IMAGES.map((r) => `registry.k8s.io/${r}`), "docker.io/flannel/flannel:v0.15.1", "docker.io/flannel/flannel-cni-plugin:v1.0.0"].map((ref, i) => ({ ref, digest: `sha256:${sha(String(i % 10))}`, file: `images/${i}.tar` })),
};

/** The cluster as kubectl on master1 sees it: kubelet versions and cordons. */
const cluster = new Map(config.hosts.map((h) => [h.name, { kubelet: "v1.22.2", unschedulable: false }]));
const ran: string[] = [];

/** A node that answers the installer's commands as a healthy one would; `failOnce` makes the first command matching it fail. */
class ScriptedHost implements Host {
  readonly files = new Map<string, Uint8Array>();
  failOnce?: RegExp;
  constructor(readonly spec: HostSpec, private readonly ctx: () => PhaseContext) {}
  get name() { return this.spec.name; }
  get address() { return this.spec.address; }
  async exec(cmd: ShellCommand, _o?: ExecOptions): Promise<ExecResult> {
    const t = cmd.text;
    const ok = (stdout = ""): ExecResult => ({ code: 0, stdout, stderr: "" });
    if (this.failOnce?.test(t)) {
      this.failOnce = undefined;
      ran.push(`${this.name}: FAILED ${t.slice(0, 60)}`);
      return { code: 1, stdout: "", stderr: "connection lost" };
    }
    if (/systemd-detect-virt/.test(t)) return ok("none\n");
    if (/images ls/.test(t))
      return ok(["REF TYPE DIGEST SIZE PLATFORMS LABELS", ...imagesOf(this.ctx(), this.spec).map((i) => `${i.name} application/x ${i.digest} 1 linux/amd64 -`)].join("\n"));
    if (/systemctl is-active/.test(t)) return ok("active\nenabled\n");
    if (/get nodes -o json/.test(t))
      return ok(JSON.stringify({ items: [...cluster].map(([name, n]) => ({ metadata: { name }, spec: { unschedulable: n.unschedulable }, status: { nodeInfo: { kubeletVersion: n.kubelet }, conditions: [{ type: "Ready", status: "True" }] } })) }));
    if (/readyz/.test(t)) return ok("ok");
    const words = t.replace(/'/g, "");
    const kubectl = /kubectl .* (drain|uncordon) (\S+)/.exec(words);
    if (kubectl) cluster.get(kubectl[2]!)!.unschedulable = kubectl[1] === "drain";
    if (/systemctl restart kubelet/.test(words)) cluster.get(this.name)!.kubelet = TO;
    const what = kubectl ? `kubectl ${kubectl[1]} ${kubectl[2]}` : /^kubeadm /.test(words) ? words : /systemctl restart/.test(words) ? words : /for b in ([^;]+);/.exec(words) ? `install ${/for b in ([^;]+);/.exec(words)![1]}` : "";
    if (what) ran.push(`${this.name}: ${what}`);
    return ok();
  }
  async upload(): Promise<void> {}
  async readFile(p: string) { return this.files.get(p) ?? null; }
  async writeFile(p: string, data: string | Uint8Array, _o?: WriteOptions) {
    this.files.set(p, typeof data === "string" ? new TextEncoder().encode(data) : data);
    return true;
  }
  async close() {}
}

const hosts = new Map<string, ScriptedHost>();
const ctx: PhaseContext = {
  config, lock, depot: depotEndpoint(config), stateDir: "/var/lib/k8s-ha-offline", bundleDir: "/root/bundle", dryRun: false, ignorePreflightErrors: [], selfPath: "/root/k8s-ha-offline",
  host: async (spec) => hosts.get(spec.name)!,
  get local() { return hosts.get("master1")!; },
  log: { info: () => {}, warn: () => {}, debug: () => {} },
  once: (_k, make) => make(),
} as PhaseContext;
for (const h of config.hosts) hosts.set(h.name, new ScriptedHost(h, () => ctx));
const spec = (n: string) => config.hosts.find((h) => h.name === n)!;
const rec = new UpgradeRecord(ctx, { to: TO, bundle: "fp", done: {} }, async () => {});

describe("node steps", () => {
  test("the first master: new kubeadm, kubeadm upgrade apply, drain, kubelet and kubectl, restart, uncordon — recorded", async () => {
    ran.length = 0;
    await upgradeNode(ctx, rec, spec("master1"), true, TO);
    expect(ran).toEqual([
      "master1: install kubeadm",
      `master1: kubeadm upgrade apply ${TO} --yes`,
      "master1: kubectl drain master1",
      "master1: install kubeadm kubelet kubectl",
      "master1: systemctl restart kubelet.service",
      "master1: kubectl uncordon master1",
    ]);
    expect(cluster.get("master1")).toEqual({ kubelet: TO, unschedulable: false });
    expect((await readUpgradeState(ctx))!.done.master1).toEqual(["kubeadm", "kubeadm-upgrade", "drain", "kubelet", "uncordon"]);
  });

  test("a run stopped at master2's kubeadm upgrade resumes there: kubeadm is not installed again, the rest follows", async () => {
    ran.length = 0;
    hosts.get("master2")!.failOnce = /kubeadm upgrade/;
    await expect(upgradeNode(ctx, rec, spec("master2"), false, TO)).rejects.toThrow('upgrade stopped on master2 at "kubeadm-upgrade"');
    expect((await readUpgradeState(ctx))!.done.master2).toEqual(["kubeadm"]);
    expect(cluster.get("master2")!.unschedulable).toBe(false); // not drained: the step before it failed
    ran.length = 0;
    await upgradeNode(ctx, rec, spec("master2"), false, TO);
    expect(ran).toEqual(["master2: kubeadm upgrade node", "master1: kubectl drain master2", "master2: install kubeadm kubelet kubectl", "master2: systemctl restart kubelet.service", "master1: kubectl uncordon master2"]);
    expect((await readUpgradeState(ctx))!.done.master2).toHaveLength(5);
  });

  test("a worker stopped after the drain is uncordoned by the re-run; a node whose steps are all recorded is left alone", async () => {
    ran.length = 0;
    hosts.get("node1")!.failOnce = /for b in .*kubelet/;
    await expect(upgradeNode(ctx, rec, spec("node1"), false, TO)).rejects.toThrow('at "kubelet"');
    expect(cluster.get("node1")!.unschedulable).toBe(true);
    await upgradeNode(ctx, rec, spec("node1"), false, TO);
    expect(cluster.get("node1")).toEqual({ kubelet: TO, unschedulable: false });
    ran.length = 0;
    for (const n of ["master1", "master2", "node1"]) await upgradeNode(ctx, rec, spec(n), n === "master1", TO);
    expect(ran).toEqual([]);
  });
});
