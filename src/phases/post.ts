// Phase post: no join secrets left in the kept kubeadm init configuration, the admin kubeconfig for root
// on master1, the componentstatus fix for Kubernetes <= 1.22, then every node of the config Ready and
// every system pod Running, shown as a table.
import { controlPlanes } from "../config/types.ts";
import type { Phase, PhaseContext } from "./phase.ts";
import { ADMIN_CONF } from "../cluster/endpoints.ts";
import { nodeRows, systemPods, type NodeRow, type PodRow } from "../cluster/kubectl.ts";
import { KUBECTL_POLL_MS, waitFor } from "../cluster/wait.ts";
import { readText } from "./util/node.ts";
import { initConfigPath, initConfigWithSecrets, scrubInitConfig } from "./util/kubeadm.ts";
import { NOTHING, todo } from "./steps.ts";
import { sh } from "../util/sh.ts";

/** kubeadm <= 1.22 writes --port=0, which breaks `kubectl get cs` (appendix 附3 of the seed, the reference kubeadm HA guide). */
const needsPortFix = (ctx: PhaseContext) => Number(ctx.config.kubernetes.version.split(".")[1]) <= 22;
const PORT_FIX_FILES = ["/etc/kubernetes/manifests/kube-controller-manager.yaml", "/etc/kubernetes/manifests/kube-scheduler.yaml"];

export function clusterTable(nodes: NodeRow[], pods: PodRow[]): string {
  const n = nodes.map((r) => `  ${r.name.padEnd(12)} ${(r.ready ? "Ready" : "NotReady").padEnd(9)} ${r.roles.padEnd(22)} ${r.version}`);
  const p = pods.map((r) => `  ${r.namespace.padEnd(13)} ${r.name.padEnd(40)} ${r.phase.padEnd(8)} ${r.node}`);
  return [`NODES`, ...n, `SYSTEM PODS`, ...p].join("\n");
}

/**
 * Every host of the config is a Ready node and every system pod on them runs. Nodes the config does
 * not name (joined by hand, or not yet removed) are shown in the table but do not block the install.
 */
async function clusterUp(ctx: PhaseContext): Promise<boolean> {
  // A node left out of this run (down when it started) is not waited for.
  const names = new Set(ctx.config.hosts.filter((h) => !ctx.down?.has(h.name)).map((h) => h.name));
  const ready = new Set((await nodeRows(ctx)).filter((n) => n.ready).map((n) => n.name));
  const pods = (await systemPods(ctx)).filter((p) => !p.node || names.has(p.node));
  return [...names].every((n) => ready.has(n)) && pods.every((p) => p.phase === "Running");
}

const upMasters = (ctx: PhaseContext) => controlPlanes(ctx.config).filter((m) => !ctx.down?.has(m.name));

export const post: Phase = {
  name: "post",
  title: "Admin kubeconfig for root on the master this runs on, the 1.22 componentstatus fix, every node Ready and system pod Running",
  hosts: controlPlanes,
  mode: "local",
  async check(ctx) {
    if (await initConfigWithSecrets(ctx)) return todo(`${initConfigPath(ctx)} still holds the bootstrap token or the certificate key (a run was cut during kubeadm)`);
    if ((await readText(ctx.local, "/root/.kube/config")) !== (await readText(ctx.local, ADMIN_CONF))) return todo("root has no kubeconfig");
    if (needsPortFix(ctx))
      for (const m of upMasters(ctx))
        for (const f of PORT_FIX_FILES) if ((await readText(await ctx.host(m), f))?.includes("--port=0")) return todo(`${m.name}: ${f} has --port=0`);
    return (await clusterUp(ctx)) ? NOTHING : todo("cluster not fully up yet");
  },
  async run(ctx) {
    // The joins are done: the kept init configuration needs no secrets (kubeadm-init removes them after
    // use; a run cut during kubeadm left them). The next upload-certs writes them again for its command only.
    if (await initConfigWithSecrets(ctx)) await scrubInitConfig(ctx);
    await ctx.local.exec(sh`mkdir -p /root/.kube && chmod 700 /root/.kube`);
    await ctx.local.writeFile("/root/.kube/config", (await readText(ctx.local, ADMIN_CONF)) ?? "", { mode: 0o600 });
    if (needsPortFix(ctx))
      for (const m of upMasters(ctx)) {
        const host = await ctx.host(m);
        for (const f of PORT_FIX_FILES) {
          const cur = await readText(host, f);
          if (cur?.includes("--port=0")) await host.writeFile(f, cur.replace(/^\s*- --port=0\n/m, ""), { mode: 0o600 });
        }
      }
    try {
      await waitFor("every node of the config Ready and every system pod Running", () => clusterUp(ctx), 180_000, KUBECTL_POLL_MS);
    } finally {
      const table = clusterTable(await nodeRows(ctx), await systemPods(ctx));
      if (ctx.report) ctx.report(table);
      else ctx.log.info(table);
    }
  },
};
