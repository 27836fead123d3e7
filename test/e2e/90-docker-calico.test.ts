// Issue 21 on one fresh lab, one whole install: the seed's own runtime, docker 20.10 + dockershim
// (`kubernetes.runtime: docker`), with calico as the CNI (`kubernetes.cni: calico`) and a pod subnet other
// than the default. Flannel and containerd are the earlier suites' cluster; one variant install covers
// both other choices (two fresh installs cost the run about 4 min more). About 6 min: lab up, the
// preflight refusals of a cgroup-driver mismatch before any change, the install, checks and a re-run.
import { beforeAll, describe, expect, test } from "bun:test";
import { parseAllDocuments } from "yaml";
import { labExec } from "../lab/lab-client.ts";
import { parseRecords } from "../kube-standin/lib/records.ts";
import { bundleLock, freshLab, onMaster1, rerunRows, variantConfig, MASTERS, NODES } from "./support.ts";

const ADDRESS: Record<string, string> = { master1: "192.168.217.19", master2: "192.168.217.20", master3: "192.168.217.21", node1: "192.168.217.22" };
const DEPOT = "192.168.217.19:5000";
const POD_SUBNET = "10.200.0.0/16";
const KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf";
const CALICO = ["calico/cni", "calico/kube-controllers", "calico/node"];
let config = "";
let install: Awaited<ReturnType<typeof onMaster1>>;

/** Everything install would change first: as the lab made it, so nothing was touched. */
async function untouched(): Promise<void> {
  for (const n of NODES) {
    const r = await labExec(n, "test ! -e /etc/k8s-ha-offline/cluster && test ! -e /usr/local/bin/k8s-ha-offline && test ! -e /usr/local/bin/dockerd && echo clean");
    expect({ node: n, out: r.stdout.trim() }).toEqual({ node: n, out: "clean" });
  }
}

beforeAll(async () => {
  await freshLab();
  config = await variantConfig("cluster-docker-calico.yaml", [
    ["runtime: containerd", "runtime: docker"],
    ["cni: flannel", "cni: calico"],
    ["podSubnet: 10.244.0.0/16", `podSubnet: ${POD_SUBNET}`],
  ]);
}, 1_200_000);

describe("preflight names a cgroup-driver mismatch before any change", () => {
  const faults = [
    {
      name: "a kubelet told cgroupfs (/etc/default/kubelet)",
      inject: "mkdir -p /etc/default && echo 'KUBELET_EXTRA_ARGS=--cgroup-driver=cgroupfs' > /etc/default/kubelet",
      undo: "rm -f /etc/default/kubelet",
      node: "node1",
      expect: /node1\s+CgroupDriver\s+error\s+the kubelet on node1 would use the cgroupfs cgroup driver \(\/etc\/default\/kubelet\); docker runs with systemd/,
    },
    {
      name: "a docker configured for cgroupfs (/etc/docker/daemon.json)",
      inject: `mkdir -p /etc/docker && echo '{"exec-opts": ["native.cgroupdriver=cgroupfs"]}' > /etc/docker/daemon.json`,
      undo: "rm -rf /etc/docker",
      node: "master2",
      expect: /master2\s+CgroupDriver\s+error\s+docker on master2 uses the cgroupfs cgroup driver \(\/etc\/docker\/daemon\.json\)/,
    },
  ];
  for (const f of faults)
    test(f.name, async () => {
      await labExec(f.node, f.inject, { check: true });
      try {
        const r = await onMaster1(`install -c ${config} --yes`);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(f.expect);
        expect(r.stderr).toContain("nothing was changed");
        await untouched();
      } finally {
        await labExec(f.node, f.undo);
      }
    });
});

describe("runtime: docker, cni: calico, the whole install", () => {
  beforeAll(async () => {
    install = await onMaster1(`install -c ${config} --yes`);
  }, 1_800_000);

  test("install runs every phase to the end", () => {
    expect(install.code).toBe(0);
    for (const p of ["runtime", "kubeadm-init", "control-plane-join", "worker-join", "cni", "post"]) expect(install.stderr).toMatch(new RegExp(`^${p}\\s+[\\d.]+s`, "m"));
    process.stderr.write(`docker + calico install: ${install.seconds.toFixed(1)} s\n`);
  });

  test("docker on every node: systemd cgroup driver, vfs inside the lab's containers, the seed's binaries from the bundle tarball", async () => {
    for (const n of NODES) {
      const info = await labExec(n, "docker info --format '{{.CgroupDriver}} {{.Driver}} {{.ServerVersion}}'");
      expect({ n, info: info.stdout.trim() }).toMatchObject({ n, info: expect.stringMatching(/^systemd vfs 20\.10\.\d+/) });
      const daemon = JSON.parse((await labExec(n, "cat /etc/docker/daemon.json", { check: true })).stdout);
      expect(daemon["exec-opts"]).toEqual(["native.cgroupdriver=systemd"]);
      expect(daemon["insecure-registries"]).toBeUndefined();
      expect(daemon["log-opts"]).toEqual({ "max-size": "100m", "max-file": "3" });
      // Every depot's CA in certs.d, no insecure registry.
      for (const m of MASTERS) expect((await labExec(n, `cmp /etc/docker/certs.d/${ADDRESS[m]}:5000/ca.crt /etc/k8s-ha-offline/depot-ca.crt && echo same`)).stdout.trim()).toBe("same");
      expect((await labExec(n, "systemctl is-active docker containerd")).stdout.trim().split("\n")).toEqual(["active", "active"]);
    }
  });

  test("docker holds kubeadm's images under kubeadm's names, pulled by the lock's digest from a depot (the depots' access logs show it)", async () => {
    const lock = await bundleLock();
    const digest = (name: string) => lock.images.find((i) => i.ref.split("/").pop()!.startsWith(`${name}:`))!.digest;
    for (const n of NODES) {
      const names = (await labExec(n, "docker images --format '{{.Repository}}:{{.Tag}}'", { check: true })).stdout.split("\n");
      const want = ["pause:3.5", "kube-proxy:v1.22.2", "coredns:v1.8.4", ...(MASTERS.includes(n) ? ["kube-apiserver:v1.22.2", "kube-controller-manager:v1.22.2", "kube-scheduler:v1.22.2"] : [])];
      for (const w of want) expect({ n, has: names.includes(`${DEPOT}/google_containers/${w}`) }).toEqual({ n, has: true });
      const repoDigests = (await labExec(n, `docker image inspect --format '{{json .RepoDigests}}' ${DEPOT}/google_containers/pause:3.5`, { check: true })).stdout;
      expect(repoDigests).toMatch(new RegExp(`192\\.168\\.217\\.(19|20|21):5000/google_containers/pause@${digest("pause")}`));
    }
    // Each node's pull of the pause image by digest is in some depot's access log, from the node's own address.
    // The access lines are in each depot's log file (the journal keeps refusals and errors only, issue 20).
    const logs = (await Promise.all(MASTERS.map((m) => labExec(m, "cat /var/log/k8s-ha-offline/depot.log")))).map((r) => r.stdout).join("\n");
    for (const n of NODES) expect({ n, logged: logs.includes(`${ADDRESS[n]} GET /v2/google_containers/pause/manifests/${digest("pause")} 200`) }).toEqual({ n, logged: true });
  });

  test("the kubelet runs on docker (dockershim), not on containerd's CRI", async () => {
    for (const n of NODES) {
      const recs = parseRecords((await labExec(n, "cat /var/log/kube-standin/records.jsonl")).stdout);
      const shim = recs.filter((r) => r.tool === "kubelet" && r.command === "dockershim" && r.outcome === "ok");
      expect({ n, shims: shim.length > 0 }).toEqual({ n, shims: true });
      expect(shim.at(-1)).toMatchObject({ runtime: "dockershim", cgroupDriver: "systemd" });
      const flags = (await labExec(n, "cat /var/lib/kubelet/kubeadm-flags.env", { check: true })).stdout;
      expect(flags).toContain("--network-plugin=cni");
      expect(flags).not.toContain("containerd.sock");
      // Nothing in containerd's CRI namespace: the kubelet never asked containerd for an image.
      expect((await labExec(n, "ctr -n k8s.io images ls -q")).stdout.trim()).toBe("");
    }
    const nodes = JSON.parse((await labExec("master1", "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o json", { check: true })).stdout).items;
    for (const node of nodes) expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^docker:\/\/20\.10\.\d+/);
  });

  test("the calico manifest was applied once: every image <depot>/calico/…@<the lock's digest>, the pool CIDR = podSubnet", async () => {
    const applies = parseRecords((await labExec("master1", "cat /var/log/kube-standin/records.jsonl")).stdout).filter((r) => r.tool === "kubectl" && r.command === "apply" && r.outcome === "ok");
    expect(applies.length).toBe(1);
    const lock = await bundleLock();
    const images = applies[0]!.images as string[];
    expect(images.sort()).toEqual(CALICO.map((repo) => `${DEPOT}/${repo}@${lock.images.find((i) => i.ref.startsWith(`docker.io/${repo}:`))!.digest}`));
    const applied = (await labExec("master1", "cat /var/lib/k8s-ha-offline/cni/applied.yaml", { check: true })).stdout;
    const node = parseAllDocuments(applied).map((d) => d.toJS() as any).find((d) => d?.kind === "DaemonSet" && d.metadata.name === "calico-node");
    const env = node.spec.template.spec.containers[0].env;
    expect(env.find((e: any) => e.name === "CALICO_IPV4POOL_CIDR").value).toBe(POD_SUBNET);
    expect(applied).not.toContain("flannel");
    // In the API as well: the DaemonSet the apiserver stored.
    const ds = JSON.parse((await labExec("master1", `${KUBECTL} -n kube-system get daemonsets calico-node -o json`, { check: true })).stdout);
    expect(ds.spec.template.spec.containers[0].image).toStartWith(`${DEPOT}/calico/node@sha256:`);
  });

  test("every node holds calico's images in docker by the lock's digest (master1's depot: docker cannot rename a digest) and is Ready; calico-node runs on each", async () => {
    const lock = await bundleLock();
    for (const n of NODES) {
      const have = (await labExec(n, "docker images --digests --format '{{.Repository}}@{{.Digest}}'", { check: true })).stdout.split("\n");
      for (const repo of CALICO) {
        const want = `${DEPOT}/${repo}@${lock.images.find((i) => i.ref.startsWith(`docker.io/${repo}:`))!.digest}`;
        expect({ n, repo, pinned: have.includes(want) }).toEqual({ n, repo, pinned: true });
      }
    }
    const nodes = JSON.parse((await labExec("master1", `${KUBECTL} get nodes -o json`, { check: true })).stdout).items;
    expect(nodes.map((x: any) => [x.metadata.name, x.status.conditions.find((c: any) => c.type === "Ready")?.status]).sort()).toEqual(NODES.map((n) => [n, "True"]));
    const pods = JSON.parse((await labExec("master1", `${KUBECTL} -n kube-system get pods -o json`, { check: true })).stdout).items;
    expect(pods.filter((p: any) => p.metadata.name.startsWith("calico-node-")).length).toBe(NODES.length);
    expect(pods.some((p: any) => p.metadata.name.startsWith("kube-flannel"))).toBe(false);
  });

  test("status shows docker on every node, healthy", async () => {
    const r = await onMaster1(`status -c ${config} --output json`);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    for (const n of report.nodes) expect({ n: n.name, docker: n.services.docker, containerd: n.services.containerd }).toEqual({ n: n.name, docker: "active", containerd: "active" });
    const table = await onMaster1(`status -c ${config}`);
    expect(table.stdout).toContain("docker");
  });

  test("a re-run has nothing to do (the calico manifest is not applied again)", async () => {
    const again = await onMaster1(`install -c ${config} --yes`);
    expect(again.code).toBe(0);
    expect(rerunRows(again.stderr).length).toBeGreaterThan(10);
    for (const r of rerunRows(again.stderr)) expect(r).toMatch(/\d+ nothing to do$/);
    const applies = parseRecords((await labExec("master1", "cat /var/log/kube-standin/records.jsonl")).stdout).filter((r) => r.tool === "kubectl" && r.command === "apply");
    expect(applies.length).toBe(1);
    process.stderr.write(`docker + calico re-run: ${again.seconds.toFixed(1)} s\n`);
  });

  test("init --runtime docker writes the seed's runtime for this bundle", async () => {
    const r = await onMaster1("init --runtime docker -o /root/init-docker.yaml --force");
    expect(r.code).toBe(0);
    expect((await labExec("master1", "grep -E '^  runtime:' /root/init-docker.yaml")).stdout).toMatch(/^ {2}runtime: docker\s/);
  });
});
