// Issue 21: calico as the CNI (containerd), the whole install on a fresh lab with `kubernetes.cni: calico`
// and a pod subnet other than the default. About 4.5 min: lab up ~1 min, install ~2.5-3 min, checks and
// a re-run under a minute.
import { beforeAll, expect, test } from "bun:test";
import { parseAllDocuments } from "yaml";
import { labExec } from "../lab/lab-client.ts";
import { parseRecords } from "../kube-standin/lib/records.ts";
import { bundleLock, freshLab, onMaster1, rerunRows, variantConfig, NODES } from "./support.ts";

const DEPOT = "192.168.217.19:5000";
const POD_SUBNET = "10.200.0.0/16";
let config = "";
let install: Awaited<ReturnType<typeof onMaster1>>;

beforeAll(async () => {
  await freshLab();
  config = await variantConfig("cluster-calico.yaml", [["cni: flannel", "cni: calico"], ["podSubnet: 10.244.0.0/16", `podSubnet: ${POD_SUBNET}`]]);
  install = await onMaster1(`install -c ${config} --yes`);
}, 2_400_000);

test("install runs every phase to the end", () => {
  expect(install.code).toBe(0);
  for (const p of ["runtime", "kubeadm-init", "worker-join", "cni", "post"]) expect(install.stderr).toMatch(new RegExp(`^${p}\\s+[\\d.]+s`, "m"));
  process.stderr.write(`calico install: ${install.seconds.toFixed(1)} s\n`);
});

test("the calico manifest was applied once: every image <depot>/calico/…@<the lock's digest>, the pool CIDR = podSubnet", async () => {
  const applies = parseRecords((await labExec("master1", "cat /var/log/kube-standin/records.jsonl")).stdout).filter((r) => r.tool === "kubectl" && r.command === "apply" && r.outcome === "ok");
  expect(applies.length).toBe(1);
  const lock = await bundleLock();
  const images = applies[0]!.images as string[];
  expect(images.sort()).toEqual(
    ["calico/cni", "calico/kube-controllers", "calico/node"].map((repo) => `${DEPOT}/${repo}@${lock.images.find((i) => i.ref.startsWith(`docker.io/${repo}:`))!.digest}`),
  );
  const applied = (await labExec("master1", "cat /var/lib/k8s-ha-offline/cni/applied.yaml", { check: true })).stdout;
  const node = parseAllDocuments(applied).map((d) => d.toJS() as any).find((d) => d?.kind === "DaemonSet" && d.metadata.name === "calico-node");
  const env = node.spec.template.spec.containers[0].env;
  expect(env.find((e: any) => e.name === "CALICO_IPV4POOL_CIDR").value).toBe(POD_SUBNET);
  expect(applied).not.toContain("flannel");
  // In the API as well: the DaemonSet the apiserver stored.
  const ds = JSON.parse((await labExec("master1", "kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get daemonsets calico-node -o json", { check: true })).stdout);
  expect(ds.spec.template.spec.containers[0].image).toStartWith(`${DEPOT}/calico/node@sha256:`);
});

test("every node pinned calico's images in containerd and is Ready; calico-node runs on each", async () => {
  for (const n of NODES) {
    const names = (await labExec(n, "ctr -n k8s.io images ls -q", { check: true })).stdout;
    for (const repo of ["calico/cni", "calico/node", "calico/kube-controllers"]) expect({ n, repo, pinned: names.includes(`${DEPOT}/${repo}@sha256:`) }).toEqual({ n, repo, pinned: true });
  }
  const nodes = JSON.parse((await labExec("master1", "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o json", { check: true })).stdout).items;
  expect(nodes.map((x: any) => [x.metadata.name, x.status.conditions.find((c: any) => c.type === "Ready")?.status]).sort()).toEqual(NODES.map((n) => [n, "True"]));
  const pods = JSON.parse((await labExec("master1", "kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system get pods -o json", { check: true })).stdout).items;
  expect(pods.filter((p: any) => p.metadata.name.startsWith("calico-node-")).length).toBe(NODES.length);
  expect(pods.some((p: any) => p.metadata.name.startsWith("kube-flannel"))).toBe(false);
});

test("a re-run has nothing to do (the manifest is not applied again)", async () => {
  const again = await onMaster1(`install -c ${config} --yes`);
  expect(again.code).toBe(0);
  expect(rerunRows(again.stderr).length).toBeGreaterThan(10);
  for (const r of rerunRows(again.stderr)) expect(r).toMatch(/\d+ nothing to do$/);
  const applies = parseRecords((await labExec("master1", "cat /var/log/kube-standin/records.jsonl")).stdout).filter((r) => r.tool === "kubectl" && r.command === "apply");
  expect(applies.length).toBe(1);
});
