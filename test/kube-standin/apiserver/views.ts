// What the API shows that nobody stores: node conditions from kubelet heartbeats, pods derived from
// static pods and applied workloads, component statuses, and the JWS-signed cluster-info.
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import type { Etcd } from "../lib/etcd.ts";
import { detachedSign } from "../lib/jws.ts";
import { tokenExpired, type TokenSecret } from "./auth.ts";

/** kubelet's node-monitor-grace-period: a node without a heartbeat for this long is Unknown. */
export const GRACE_MS = 40_000;
export const CNI_DAEMONSET = /flannel|calico-node|cilium|weave-net|kube-router|antrea-agent/;

const suffix = (...parts: string[]) => createHash("sha256").update(parts.join("/")).digest("hex").replace(/[0-9]/g, (d) => "bcdfghjkmn"[+d]!).slice(0, 5);

export async function cniDaemonSets(etcd: Etcd): Promise<any[]> {
  const all = await etcd.list("objects/apps/v1/daemonsets/");
  return [...all.values()];
}

export async function nodesView(etcd: Etcd, now = Date.now()): Promise<any[]> {
  const nodes = [...(await etcd.list("objects/v1/nodes/-/")).values()];
  const cni = (await cniDaemonSets(etcd)).some((d) => CNI_DAEMONSET.test(d.metadata?.name ?? ""));
  return nodes.map((n) => {
    const beat = Date.parse(n.status?.standin?.lastHeartbeat ?? 0);
    const alive = now - beat < GRACE_MS;
    const ready = !alive
      ? { status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status." }
      : cni
        ? { status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" }
        : { status: "False", reason: "KubeletNotReady", message: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized" };
    return { ...n, status: { ...n.status, conditions: [{ type: "Ready", lastHeartbeatTime: n.status?.standin?.lastHeartbeat, ...ready }] } };
  });
}

export const nodeReady = (n: any) => n.status?.conditions?.find((c: any) => c.type === "Ready")?.status === "True";
const nodeAlive = (n: any) => n.status?.conditions?.find((c: any) => c.type === "Ready")?.status !== "Unknown";

function pod(name: string, ns: string, node: string | undefined, phase: string, images: string[], owner: string, labels: Record<string, string> = {}) {
  const running = phase === "Running";
  return {
    apiVersion: "v1", kind: "Pod",
    metadata: { name, namespace: ns, labels, ownerReferences: [{ kind: owner }] },
    spec: { nodeName: node, containers: images.map((image, i) => ({ name: `c${i}`, image })) },
    status: { phase, conditions: [{ type: "Ready", status: running ? "True" : "False" }], containerStatuses: images.map((image) => ({ image, ready: running })) },
  };
}

const labelsOf = (o: any): Record<string, string> => o.spec?.template?.metadata?.labels ?? {};
const imagesOf = (o: any): string[] => [...(o.spec?.template?.spec?.initContainers ?? []), ...(o.spec?.template?.spec?.containers ?? [])].map((c: any) => c.image);

export async function podsView(etcd: Etcd): Promise<any[]> {
  const nodes = await nodesView(etcd);
  const schedulable = nodes.filter((n) => nodeReady(n) && !n.spec?.unschedulable);
  const out: any[] = [];
  for (const n of nodes) {
    const nn = n.metadata.name;
    for (const sp of n.status?.standin?.staticPods ?? []) out.push(pod(`${sp.name}-${nn}`, "kube-system", nn, nodeAlive(n) ? "Running" : "Unknown", [sp.image], "Node", { component: sp.name, tier: "control-plane" }));
  }
  for (const ds of await cniDaemonSets(etcd)) {
    for (const n of nodes) out.push(pod(`${ds.metadata.name}-${suffix(ds.metadata.name, n.metadata.name)}`, ds.metadata.namespace, n.metadata.name, nodeAlive(n) ? "Running" : "Unknown", imagesOf(ds), "DaemonSet", labelsOf(ds)));
  }
  for (const d of (await etcd.list("objects/apps/v1/deployments/")).values()) {
    const replicas = d.spec?.replicas ?? 1;
    for (let i = 0; i < replicas; i++) {
      const n = schedulable[i % Math.max(1, schedulable.length)];
      const name = `${d.metadata.name}-${suffix(d.metadata.name)}-${suffix(d.metadata.name, String(i))}`;
      out.push(pod(name, d.metadata.namespace, n?.metadata.name, n ? "Running" : "Pending", imagesOf(d), "ReplicaSet", labelsOf(d)));
    }
  }
  return out;
}

/** cluster-info with one jws-kubeconfig-<id> signature per valid signing token, as the bootstrap signer keeps it. */
export async function clusterInfoView(etcd: Etcd, stored: any): Promise<any> {
  const tokens = await etcd.list<TokenSecret>("objects/v1/secrets/kube-system/bootstrap-token-");
  const data = { kubeconfig: stored.data.kubeconfig } as Record<string, string>;
  for (const t of tokens.values()) {
    if (tokenExpired(t) || t.stringData["usage-bootstrap-signing"] !== "true") continue;
    const id = t.stringData["token-id"]!;
    data[`jws-kubeconfig-${id}`] = detachedSign(stored.data.kubeconfig, id, t.stringData["token-secret"]!);
  }
  return { ...stored, data };
}

/** `kubectl get cs`: scheduler/controller-manager are unhealthy while their manifests keep --port=0 (the seed's 1.22 symptom). */
export async function componentStatuses(etcd: Etcd, manifestDir: string | undefined): Promise<any[]> {
  const comp = (name: string, file: string, port: number) => {
    const text = manifestDir && fs.existsSync(path.join(manifestDir, file)) ? fs.readFileSync(path.join(manifestDir, file), "utf8") : "";
    const healthy = text !== "" && !/--port=0\b/.test(text);
    const message = healthy ? "ok" : "";
    const error = healthy ? "" : `Get "http://127.0.0.1:${port}/healthz": dial tcp 127.0.0.1:${port}: connect: connection refused`;
    return { metadata: { name }, conditions: [{ type: "Healthy", status: healthy ? "True" : "False", message, error }] };
  };
  const out = [comp("scheduler", "kube-scheduler.yaml", 10251), comp("controller-manager", "kube-controller-manager.yaml", 10252)];
  await Promise.all(
    etcd.endpoints.map(async (ep, i) => {
      let ok = false, body = "";
      try {
        const r = await etcd.get(ep, "/health", 3000);
        body = r.body.trim();
        ok = r.status === 200 && /"health":\s*"true"/.test(body);
      } catch (e) {
        body = (e as Error).message;
      }
      out.push({ metadata: { name: `etcd-${i}` }, conditions: [{ type: "Healthy", status: ok ? "True" : "False", message: ok ? body : "", error: ok ? "" : body }] });
    }),
  );
  return out;
}
