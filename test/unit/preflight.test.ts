// Preflight rules on facts in the exact text format the node script prints (parseFacts is the
// same parser the phase uses on real nodes; the lab suite runs the script itself).
import { expect, test } from "bun:test";
import { gatherFacts, parseFacts, type NodeFacts } from "../../src/phases/preflight/facts.ts";
import { LocalHost } from "../../src/hosts/local.ts";
import { evaluate, blocking, findingsTable, markerFor } from "../../src/phases/preflight/checks.ts";
import { seedConfig } from "./support/seed-config.ts";

const config = seedConfig([["profile: el7-k8s1.22", "profile: debian12"]]);
const now = Date.now() / 1000;

function node(name: string, address: string, i: number, extra = ""): NodeFacts {
  const out = [
    "os_id=debian", "os_version=12", "os_like=", "arch=x86_64", "cpus=4", "mem_kb=8000000", "swaps=0", "swap_fstab=0",
    `hostname=${name}`, "product_uuid=", "virt=none", `machine_id=${String(i).repeat(32)}`,
    `addr=ens33 ${address}/24`, `mac=ens33 02:00:00:00:00:0${i}`, "root_free_kb=90000000", "marker=", `clock=${now}`, extra,
  ].join("\n");
  return parseFacts(out, now, now);
}

function facts(overrides: Record<string, string> = {}) {
  return new Map(config.hosts.map((h, i) => [h.name, node(overrides[`${h.name}:hostname`] ?? h.name, h.address, i + 1, overrides[h.name] ?? "")]));
}

const errors = (f: Map<string, NodeFacts>, vip = false) => evaluate(config, f, vip).filter((x) => x.level === "error");

test("healthy nodes pass", () => {
  expect(errors(facts())).toEqual([]);
  expect(findingsTable(evaluate(config, facts(), false))).toContain("every check passed");
});

test("swap on is named, with the fix", () => {
  const f = facts({ master2: "swaps=1" });
  const e = errors(f);
  expect(e.map((x) => `${x.host}/${x.check}`)).toEqual(["master2/Swap"]);
  expect(e[0]!.fix).toContain("swapoff -a");
});

test("a busy port is named with its holder; our own etcd on a node of this cluster is not a conflict", () => {
  const busy = errors(facts({ master3: `listen=0.0.0.0:2379 users:(("nc",pid=9,fd=3))` }));
  expect(busy.map((x) => `${x.host}/${x.check}`)).toEqual(["master3/Port-2379"]);
  expect(busy[0]!.message).toContain("nc");
  const ours = errors(facts({ master3: `listen=0.0.0.0:2379 users:(("etcd",pid=9,fd=3))\nmarker=${markerFor(config)}` }));
  expect(ours).toEqual([]);
});

test("a wrong interface name is named", () => {
  const wrong = seedConfig([["profile: el7-k8s1.22", "profile: debian12"], ["interface: ens33", "interface: eth9"]]);
  const e = evaluate(wrong, facts(), false).filter((x) => x.level === "error");
  expect(new Set(e.map((x) => x.check))).toEqual(new Set(["Interface"]));
  expect(e.map((x) => x.host)).toEqual(["master1", "master2", "master3"]);
  expect(e[0]!.message).toContain("eth9 does not exist");
});

test("a node calling itself by another node's name is reported (swapped or cloned machines)", () => {
  const e = errors(facts({ "master2:hostname": "master1" }));
  expect(e.map((x) => `${x.host}/${x.check}`)).toEqual(["master2/Hostname"]);
});

test("cloned machines: same machine-id or MAC", () => {
  const f = facts();
  f.get("node1")!.machineId = f.get("master1")!.machineId;
  f.get("master3")!.macs.ens33 = f.get("master2")!.macs.ens33!;
  expect(errors(f).map((x) => `${x.host}/${x.check}`).sort()).toEqual(["master3/MAC", "node1/MachineID"]);
});

test("OS not matching the bundle profile, too little memory, remnants, clock skew, VIP taken", () => {
  const f = facts({ node1: "os_id=centos\nos_version=7", master2: "mem_kb=1000000", master3: "remnant=/var/lib/etcd/member" });
  f.get("master1")!.clock = now + 30;
  const e = errors(f, true).map((x) => `${x.host}/${x.check}`).sort();
  expect(e).toEqual(["master1/ClockSkew", "master1/VIP", "master2/Mem", "master3/Remnants", "node1/OS"]);
});

test("--ignore-preflight-errors downgrades by name, or all", () => {
  const f = evaluate(config, facts({ master2: "swaps=1" }), false);
  expect(blocking(f, ["swap"])).toEqual([]);
  expect(blocking(f, ["all"])).toEqual([]);
  expect(blocking(f, ["Mem"]).length).toBe(1);
});

test("cgroup drivers: a docker already on a node with cgroupfs, or a kubelet told cgroupfs, is named before any change", () => {
  const docker = seedConfig([["profile: el7-k8s1.22", "profile: debian12"], ["runtime: containerd", "runtime: docker"]]);
  expect(docker.kubernetes.runtime).toBe("docker");
  const f = facts({
    master2: "docker_cgroup=docker info cgroupfs\ndocker_cgroup=/etc/docker/daemon.json ",
    node1: "kubelet_cgroup=/etc/default/kubelet cgroupfs",
  });
  const e = evaluate(docker, f, false).filter((x) => x.level === "error");
  expect(e.map((x) => `${x.host}/${x.check}`)).toEqual(["master2/CgroupDriver", "node1/CgroupDriver"]);
  expect(e[0]!.message).toBe("docker on master2 uses the cgroupfs cgroup driver (docker info); the kubelet this install sets up uses systemd");
  expect(e[0]!.fix).toContain('"exec-opts": ["native.cgroupdriver=systemd"]');
  expect(e[1]!.message).toBe("the kubelet on node1 would use the cgroupfs cgroup driver (/etc/default/kubelet); docker runs with systemd");
  expect(blocking(evaluate(docker, f, false), ["CgroupDriver"])).toEqual([]);
  // Our own docker (systemd, from our daemon.json) on a re-run is fine; so is docker with containerd as the runtime.
  expect(evaluate(docker, facts({ master2: "docker_cgroup=docker info systemd\ndocker_cgroup=/etc/docker/daemon.json systemd" }), false).filter((x) => x.level === "error")).toEqual([]);
  expect(errors(facts({ master2: "docker_cgroup=docker info cgroupfs" }))).toEqual([]);
  // A kubelet told cgroupfs is wrong with containerd (SystemdCgroup = true) as well.
  expect(errors(facts({ node1: "kubelet_cgroup=/var/lib/kubelet/config.yaml cgroupfs" })).map((x) => x.check)).toEqual(["CgroupDriver"]);
});

test("the facts script runs to the end on a real machine (a node without docker, kubelet files or a marker is not an error)", async () => {
  // This machine has none of /etc/default/kubelet, /etc/sysconfig/kubelet, kubeadm-flags.env: the script
  // once ended with the status of its last `[ -f … ] &&` and every fresh node failed preflight.
  const f = await gatherFacts(new LocalHost({ name: "here", address: "127.0.0.1" }));
  expect(f.cpus).toBeGreaterThan(0);
  expect(f.kubeletCgroup).toEqual([]);
});
