// Issue 7: `add-node` brings the lab's fifth node (node2, up since `lab up --nodes 5` but not in the
// deployed cluster.yaml) into the installed cluster as a worker; `remove-node` drains, deletes and
// resets it so cleanly that it can be added again.
import { beforeAll, expect, test } from "bun:test";
import { labExec } from "../lab/lab-client.ts";
import { parseRecords } from "../kube-standin/lib/records.ts";
import { onMaster1, labHostLine, NODES } from "./support.ts";

const kubectlNodes = async () =>
  JSON.parse((await labExec("master1", "kubectl get nodes -o json", { check: true })).stdout).items.map((n: any) => ({
    name: n.metadata.name,
    ready: n.status.conditions.find((c: any) => c.type === "Ready")?.status === "True",
  }));
const joins = async () =>
  parseRecords((await labExec("node2", "cat /var/log/kube-standin/records.jsonl 2>/dev/null")).stdout).filter((r) => r.tool === "kubeadm" && r.command === "join" && r.outcome === "ok");
const setNode2InConfig = (present: boolean) =>
  labExec("master1", present ? `grep -q 'name: node2,' /root/cluster.yaml || sed -i '/name: node1,/a\\${labHostLine("node2")}' /root/cluster.yaml` : "sed -i '/name: node2,/d' /root/cluster.yaml", { check: true });
const phaseRows = (stderr: string) =>
  stderr.slice(stderr.lastIndexOf("PHASE")).split("\n").slice(1).filter((l) => /^\S+\s+[\d.]+s\s+/.test(l) && !l.startsWith("total"));

let added: Awaited<ReturnType<typeof onMaster1>>;
let joinsBefore = 0; // node2 may have joined before (a lab re-used by hand); count from here

beforeAll(async () => {
  // The earlier suites leave an installed 4-node cluster; make sure (nothing to do if so).
  expect((await onMaster1("install -c cluster.yaml --yes")).code).toBe(0);
  joinsBefore = (await joins()).length;
  await setNode2InConfig(true);
  added = await onMaster1("add-node node2 --role worker -c cluster.yaml --yes");
});

test("add-node refuses a host that is not in the config, a role that does not match it, and master1 (exit 2, nothing run)", async () => {
  for (const [args, says] of [
    ["add-node node9", "node9 is not in"],
    ["add-node node2 --role control-plane", "has roles worker"],
    ["add-node master1", "master1"],
    ["remove-node master1 --yes", "master1"],
  ] as const) {
    const r = await onMaster1(`${args} -c cluster.yaml`);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr).toContain(says);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }
});

test("add-node joins node2 as a worker; the existing nodes only get node2 in /etc/hosts (and the masters' chrony allow lists)", async () => {
  expect(added.code).toBe(0);
  const nodes = await kubectlNodes();
  expect(nodes.map((n: any) => n.name).sort()).toEqual([...NODES, "node2"].sort());
  expect(nodes.every((n: any) => n.ready)).toBe(true);
  const j = await joins();
  expect(j.length).toBe(joinsBefore + 1);
  expect(j.at(-1)!.controlPlane).toBe(false);
  for (const row of phaseRows(added.stderr)) {
    const [phase] = row.split(/\s+/);
    // Phases that write something about every node of the config are allowed to change existing ones.
    if (["preflight", "os", "time"].includes(phase!)) continue;
    expect({ phase, row }).toEqual({ phase, row: expect.not.stringMatching(/\b([2-9]|\d\d+) done/) as unknown as string });
  }
  for (const n of [...NODES, "node2"]) expect((await labExec(n, "grep -c ' node2$' /etc/hosts")).stdout.trim()).toBe("1");
  // node2 is prepared like the others: containerd pulls through the depot mirror, chrony follows one of the
  // masters (they serve time together, orphan mode).
  expect((await labExec("node2", "systemctl is-active containerd kubelet")).stdout.split("\n").slice(0, 2)).toEqual(["active", "active"]);
  expect((await labExec("node2", "chronyc -n sources")).stdout).toMatch(/^\^\* 192\.168\.217\.(19|20|21)\b/m);
});

test("add-node again: nothing to do anywhere", async () => {
  const again = await onMaster1("add-node node2 -c cluster.yaml --yes");
  expect(again.code).toBe(0);
  for (const row of phaseRows(again.stderr).filter((r) => !r.startsWith("preflight"))) expect(row).toMatch(/\d+ nothing to do$/);
});

test("remove-node drains, deletes and resets node2; after the config loses it, /etc/hosts does too", async () => {
  const r = await onMaster1("remove-node node2 -c cluster.yaml --yes");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("node2: drained and deleted");
  expect((await kubectlNodes()).map((n: any) => n.name).sort()).toEqual([...NODES].sort());
  const pods = JSON.parse((await labExec("master1", "kubectl get pods -A -o json", { check: true })).stdout).items;
  expect(pods.filter((p: any) => p.spec?.nodeName === "node2").map((p: any) => p.metadata.name)).toEqual([]);
  expect((await labExec("node2", "systemctl is-active kubelet; systemctl is-enabled kubelet; test -e /etc/kubernetes && echo present || echo absent")).stdout.trim().split("\n")).toEqual(["inactive", "disabled", "absent"]);
  const rec = parseRecords((await labExec("node2", "cat /var/log/kube-standin/records.jsonl")).stdout);
  expect(rec.some((x) => x.tool === "kubeadm" && x.command === "reset" && x.outcome === "ok")).toBe(true);
  // A second remove-node finds nothing to drain and still succeeds.
  const again = await onMaster1("remove-node node2 -c cluster.yaml --yes");
  expect(again.code).toBe(0);
  expect(again.stdout).toContain("already deleted");

  await setNode2InConfig(false);
  expect((await onMaster1("install -c cluster.yaml --yes --only os")).code).toBe(0);
  for (const n of NODES) expect((await labExec(n, "grep -c ' node2$' /etc/hosts || true")).stdout.trim()).toBe("0");
});

test("a removed node can be added again (the reset left nothing in the way)", async () => {
  await setNode2InConfig(true);
  const r = await onMaster1("add-node node2 --role worker -c cluster.yaml --yes");
  expect(r.code).toBe(0);
  expect((await kubectlNodes()).find((n: any) => n.name === "node2")?.ready).toBe(true);
  expect((await joins()).length).toBe(joinsBefore + 2);
  // Leave the lab as the suite found it: four nodes in the cluster and in the config.
  expect((await onMaster1("remove-node node2 -c cluster.yaml --yes")).code).toBe(0);
  await setNode2InConfig(false);
  expect((await onMaster1("install -c cluster.yaml --yes --only os")).code).toBe(0);
});
