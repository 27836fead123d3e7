// kubectl on master1 with the admin kubeconfig: how the installer and the ops commands talk to the
// Kubernetes API once kubeadm init has run.
import type { Host } from "../hosts/host.ts";
import { sh, type ShellCommand } from "../util/sh.ts";
import { ADMIN_CONF } from "./endpoints.ts";

/** The kubectl command line for these arguments, with the admin kubeconfig. */
export const kubectlCommand = (args: ShellCommand) => sh`kubectl --kubeconfig ${ADMIN_CONF} ${args}`;

/** Run kubectl on master1; its output, or an error that says which command failed and why. */
export async function kubectl(ctx: { local: Host }, args: ShellCommand, timeoutMs = 60_000): Promise<string> {
  const r = await ctx.local.exec(kubectlCommand(args), { timeoutMs, check: false });
  if (r.code !== 0) throw new Error(`kubectl ${args.text.split(" ").slice(0, 3).join(" ")} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Whether a node object of `kubectl get nodes -o json` has condition Ready=True. */
export const nodeIsReady = (n: any): boolean => (n.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");

export interface NodeRow {
  name: string;
  ready: boolean;
  roles: string;
  version: string;
}

export async function nodeRows(ctx: { local: Host }): Promise<NodeRow[]> {
  const list = JSON.parse(await kubectl(ctx, sh`get nodes -o json`)) as { items: any[] };
  return list.items.map((n) => ({
    name: n.metadata.name,
    ready: nodeIsReady(n),
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

/** Pods of the namespaces the install puts there (kube-system and the CNI's). */
export async function systemPods(ctx: { local: Host }): Promise<PodRow[]> {
  const list = JSON.parse(await kubectl(ctx, sh`get pods -A -o json`)) as { items: any[] };
  return list.items
    .filter((p) => ["kube-system", "kube-flannel", "calico-system"].includes(p.metadata.namespace))
    .map((p) => ({ namespace: p.metadata.namespace, name: p.metadata.name, node: p.spec?.nodeName ?? "", phase: p.status?.phase ?? "" }));
}
