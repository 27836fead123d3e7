// How the installer talks to the new cluster: kubectl with the admin kubeconfig on master1,
// and readiness through the same path every client takes (haproxy on the VIP).
import type { PhaseContext } from "../phase.ts";
import type { Host } from "../../hosts/host.ts";

export const ADMIN_CONF = "/etc/kubernetes/admin.conf";
export const CA_CRT = "/etc/kubernetes/pki/ca.crt";

export async function kubectl(ctx: PhaseContext, args: string, timeoutMs = 60_000): Promise<string> {
  const r = await ctx.local.exec(`kubectl --kubeconfig ${ADMIN_CONF} ${args}`, { timeoutMs, check: false });
  if (r.code !== 0) throw new Error(`kubectl ${args.split(" ").slice(0, 3).join(" ")} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** /readyz answers 200 at this URL, checked against the cluster CA (so the certificate must carry that address). */
export async function readyAt(host: Host, url: string): Promise<boolean> {
  const r = await host.exec(`curl -sf --max-time 3 --cacert ${CA_CRT} ${url}/readyz`, { check: false, timeoutMs: 10_000 });
  return r.code === 0 && r.stdout.trim() === "ok";
}

export const vipUrl = (ctx: Pick<PhaseContext, "config">) => `https://${ctx.config.loadBalancer.vip}:${ctx.config.loadBalancer.port}`;

export interface NodeRow {
  name: string;
  ready: boolean;
  roles: string;
  version: string;
}

export async function nodeRows(ctx: PhaseContext): Promise<NodeRow[]> {
  const list = JSON.parse(await kubectl(ctx, "get nodes -o json")) as { items: any[] };
  return list.items.map((n) => ({
    name: n.metadata.name,
    ready: (n.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True"),
    roles: Object.keys(n.metadata.labels ?? {}).filter((l) => l.startsWith("node-role.kubernetes.io/")).map((l) => l.split("/")[1]).join(",") || "<none>",
    version: n.status?.nodeInfo?.kubeletVersion ?? "",
  }));
}

export interface PodRow {
  namespace: string;
  name: string;
  node: string;
  phase: string;
}

export async function systemPods(ctx: PhaseContext): Promise<PodRow[]> {
  const list = JSON.parse(await kubectl(ctx, "get pods -A -o json")) as { items: any[] };
  return list.items
    .filter((p) => ["kube-system", "kube-flannel", "calico-system"].includes(p.metadata.namespace))
    .map((p) => ({ namespace: p.metadata.namespace, name: p.metadata.name, node: p.spec?.nodeName ?? "", phase: p.status?.phase ?? "" }));
}
