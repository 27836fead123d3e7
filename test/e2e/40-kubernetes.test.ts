// Issue 7's acceptance on the lab: the whole install runs to the end with the Kubernetes stand-in
// (a strict contract checker) where kubeadm/kubelet/kubectl would be; its records prove the order.
import { beforeAll, expect, test } from "bun:test";
import { labExec } from "../lab/lab-client.ts";
import { parseRecords, type InvocationRecord } from "../kube-standin/lib/records.ts";
import { onMaster1, NODES, MASTERS, bundleLock } from "./support.ts";

const VIP = "192.168.217.100";
let install: Awaited<ReturnType<typeof onMaster1>>;
const records = async (n: string): Promise<InvocationRecord[]> => parseRecords((await labExec(n, "cat /var/log/kube-standin/records.jsonl 2>/dev/null")).stdout);
const ok = (rs: InvocationRecord[], tool: string, command: string) => rs.filter((r) => r.tool === tool && r.command === command && r.outcome === "ok");

beforeAll(async () => {
  install = await onMaster1("install -c cluster.yaml --yes");
});

test("install runs every phase to the end", () => {
  expect(install.code).toBe(0);
  for (const p of ["kubeadm-init", "control-plane-join", "worker-join", "cni", "post"]) expect(install.stderr).toMatch(new RegExp(`^${p}\\s+[\\d.]+s`, "m"));
  process.stderr.write(`full install: ${install.seconds.toFixed(1)} s\n`);
});

test("the apiserver certificate carries the VIP: the worker reaches /readyz through haproxy with the cluster CA", async () => {
  const r = await labExec("node1", `curl -sS --max-time 5 --cacert /etc/kubernetes/pki/ca.crt https://${VIP}:9443/readyz`);
  expect(r.stdout.trim()).toBe("ok");
});

test("one init on master1, through the VIP and the LB port, with external etcd and the depot as image repository", async () => {
  const init = ok(await records("master1"), "kubeadm", "init");
  expect(init.length).toBe(1);
  expect(init[0]!.controlPlaneEndpoint).toBe(`${VIP}:9443`);
  expect(init[0]!.imageRepository).toBe("192.168.217.19:5000/google_containers");
  expect(init[0]!.etcdEndpoints).toEqual(MASTERS.map((_, i) => `https://192.168.217.${19 + i}:2379`));
  for (const n of ["master2", "master3", "node1"]) expect(ok(await records(n), "kubeadm", "init").length).toBe(0);
});

test("two control-plane joins, one after the other; one worker join", async () => {
  const j2 = ok(await records("master2"), "kubeadm", "join");
  const j3 = ok(await records("master3"), "kubeadm", "join");
  const jw = ok(await records("node1"), "kubeadm", "join");
  expect([j2.length, j3.length, jw.length]).toEqual([1, 1, 1]);
  expect([j2[0]!.controlPlane, j3[0]!.controlPlane, jw[0]!.controlPlane]).toEqual([true, true, false]);
  expect(new Date(String(j3[0]!.started)).getTime()).toBeGreaterThan(new Date(j2[0]!.ts).getTime());
  for (const j of [j2[0]!, j3[0]!, jw[0]!]) expect(j.endpoint).toBe(`${VIP}:9443`);
});

test("the CNI manifest was applied once, with depot image names only", async () => {
  const applies = ok(await records("master1"), "kubectl", "apply");
  expect(applies.length).toBe(1);
  const images = applies[0]!.images as string[];
  expect(images.length).toBeGreaterThan(0);
  for (const i of images) expect(i).toStartWith("192.168.217.19:5000/");
  // Pinned by the bundle lock's digests (issue 15): the kubelet pulls exactly the locked content.
  const lock = await bundleLock();
  for (const i of images) {
    const [repo, digest] = i.split("@");
    expect({ i, locked: lock.images.find((l) => l.ref.replace(/^docker\.io\//, "").startsWith(`${repo!.slice("192.168.217.19:5000/".length)}:`))?.digest }).toEqual({ i, locked: digest });
  }
});

test("kubeadm found every image already present (pinned to the lock beforehand) and pulled none by tag", async () => {
  const init = ok(await records("master1"), "kubeadm", "init");
  expect(init[0]!.imagesPulled).toEqual([]);
  expect((init[0]!.imagesPresent as string[]).length).toBe(6);
  for (const n of ["master2", "master3"]) expect(ok(await records(n), "kubeadm", "join")[0]!.imagesPulled).toEqual([]);
});

test("every node Ready, every system pod Running, root has a kubeconfig", async () => {
  const nodes = JSON.parse((await labExec("master1", "kubectl get nodes -o json", { check: true })).stdout).items;
  expect(nodes.map((n: any) => n.metadata.name).sort()).toEqual(NODES);
  for (const n of nodes) expect(n.status.conditions.find((c: any) => c.type === "Ready").status).toBe("True");
  const pods = JSON.parse((await labExec("master1", "kubectl get pods -A -o json", { check: true })).stdout).items;
  expect(pods.filter((p: any) => p.status.phase !== "Running").map((p: any) => p.metadata.name)).toEqual([]);
});

test("secrets: the join secrets live in 0600 files on master1 and never reach a log the installer wrote", async () => {
  const join = JSON.parse((await labExec("master1", "cat /var/lib/k8s-ha-offline/join.json", { check: true })).stdout);
  expect((await labExec("master1", "stat -c %a /var/lib/k8s-ha-offline/join.json /var/lib/k8s-ha-offline/kubeadm/init.yaml")).stdout).toBe("600\n600\n");
  // init.yaml held the token and the certificate key only while kubeadm read it (issue 15).
  expect((await labExec("master1", `grep -cF -e '${join.token}' -e '${join.token.split(".")[1]}' -e '${join.certificateKey}' /var/lib/k8s-ha-offline/kubeadm/init.yaml || true`)).stdout.trim()).toBe("0");
  for (const n of NODES) {
    const hits = await labExec(n, `grep -rlF -e '${join.token}' -e '${join.certificateKey}' /var/lib/k8s-ha-offline/logs /var/log/k8s-ha-offline /var/log/kube-standin 2>/dev/null || true`);
    expect({ node: n, files: hits.stdout.trim() }).toEqual({ node: n, files: "" });
    expect((await labExec(n, "test -e /etc/kubernetes/k8s-ha-offline-join.yaml && echo left || echo gone")).stdout.trim()).toBe("gone");
  }
  // The token expires (24 h), unlike the seed's ttl 0.
  expect(join.tokenExpiresAt).toBeGreaterThan(Date.now());
  expect(join.tokenExpiresAt).toBeLessThan(Date.now() + 25 * 3600_000);
});

test("re-running install after success reports nothing to do for every phase", async () => {
  const again = await onMaster1("install -c cluster.yaml --yes");
  expect(again.code).toBe(0);
  const table = again.stderr.slice(again.stderr.lastIndexOf("PHASE"));
  const rows = table.split("\n").slice(1).filter((l) => /^\S+\s+[\d.]+s\s+/.test(l) && !l.startsWith("total") && !l.startsWith("preflight"));
  expect(rows.length).toBeGreaterThan(10);
  for (const r of rows) expect(r).toMatch(/\d+ nothing to do$/);
  process.stderr.write(`re-run after success: ${again.seconds.toFixed(1)} s\n`);
});
