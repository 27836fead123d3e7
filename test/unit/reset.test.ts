// reset's plan: on a DirHost node that holds every file the installer writes (plus files of its own),
// the files part removes exactly the installer's — and the /etc/hosts block, nothing else of that
// file. A scan of the phases keeps the plan complete: a path a phase writes that reset does not
// remove fails here until it is added (or listed below as deliberately kept).
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { DirHost } from "./support/dir-host.ts";
import { labCluster } from "./support/cluster-fixture.ts";
import { RESET_PATHS, RESET_SERVICES, nodeResetRefusal, planNodeReset, resetFilesScript, resetServicesScript } from "../../src/ops/reset.ts";
import { hostsBlock, withHostsBlock } from "../../src/phases/os.ts";
import { restoreChronyOriginal } from "../../src/cluster/chrony-original.ts";

const root = mkdtempSync(join(tmpdir(), "reset-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const config = labCluster("/var/lib/k8s-ha-offline");

/** Paths the install touches that reset deliberately leaves (the OS's own files, edited in place or not ours). */
const KEPT = new Set([
  "/etc/hostname", // the node keeps the name it was given
  "/etc/hosts", // only the managed block goes (checked below)
  "/etc/selinux/config", // permissive stays: an OS policy choice, documented in the README
  "/etc/chrony.conf", "/etc/chrony/chrony.conf", // the package's file: its original is put back (see below)
  "/var/run/dockershim.sock", // a socket kubeadm is pointed at, never written
  "/etc/default/kubelet", // the operator's kubelet flags: preflight only reads them (a --cgroup-driver there)
  "/etc/systemd/system/", // the directory of every unit
  "/var/lib/k8s-ha-offline-node", // its contents go (checked below); the directory and the packages record only with --purge-packages
]);

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk(join(d, e.name)) : out.push(`/${relative(dir, join(d, e.name))}`));
  };
  walk(dir);
  return out.sort();
}

test("every absolute path the phases write is removed by reset or deliberately kept", async () => {
  const sources = [...new Bun.Glob("src/{phases,profiles,cluster}/**/*.ts").scanSync(join(import.meta.dir, "../.."))];
  const paths = new Set<string>();
  for (const f of sources)
    for (const m of readFileSync(join(import.meta.dir, "../..", f), "utf8").matchAll(/["'`](\/(?:etc|var|usr|opt|root|run)\/[A-Za-z0-9_./-]*)/g)) paths.add(m[1]!);
  const covered = (p: string) => KEPT.has(p) || RESET_PATHS.some((r) => p === r || p.startsWith(`${r}/`)) || p.startsWith("/var/lib/k8s-ha-offline-node/");
  expect([...paths].filter((p) => !covered(p))).toEqual([]);
});

test("reset's files part on a node with the installer's files: every one removed, the node's own untouched", async () => {
  const node = config.hosts[1]!; // master2: control plane + etcd
  const host = new DirHost(join(root, "master2"), node.name, node.address);
  const plan = planNodeReset(config, node, { purgePackages: false });
  const ours = plan.paths.map((p) => (p.endsWith(".conf") || p.endsWith(".list") || p.includes("/bin/") || p.includes("/sbin/") || p.endsWith(".service") || p.endsWith(".repo") || p.endsWith(".cfg") || p.endsWith(".sh") || p.endsWith(".bak") || p.endsWith("/config") ? p : `${p}/some-file`));
  for (const p of ours) {
    mkdirSync(dirname(host.local(p)), { recursive: true });
    writeFileSync(host.local(p), "installer's\n");
  }
  const own = ["/etc/hosts.allow", "/etc/haproxy/errors/503.http", "/etc/keepalived/notify.sh", "/usr/local/bin/jq", "/usr/bin/vim", "/etc/sysctl.d/10-local.conf", "/var/lib/mysql/db", "/root/.bashrc", "/etc/apt/sources.list.d/debian.list", "/etc/systemd/system/myapp.service", "/var/lib/k8s-ha-offline-node/packages-added"];
  for (const p of own) {
    mkdirSync(dirname(host.local(p)), { recursive: true });
    writeFileSync(host.local(p), "the node's own\n");
  }
  const theirs = "127.0.0.1 localhost\n10.1.1.1 db\n";
  writeFileSync(host.local("/etc/hosts"), withHostsBlock(theirs, hostsBlock(config)) + "10.1.1.2 after\n");

  await host.exec(resetFilesScript(plan));
  expect(files(root + "/master2").filter((f) => f !== "/etc/hosts")).toEqual([...own].sort());
  expect(readFileSync(host.local("/etc/hosts"), "utf8")).toBe(`${theirs}10.1.1.2 after\n`);
  // The node's own files are untouched, byte for byte.
  for (const p of own) expect(readFileSync(host.local(p), "utf8")).toBe("the node's own\n");
  // A second run finds nothing to do and fails on nothing.
  await host.exec(resetFilesScript(plan));
  expect(existsSync(host.local("/etc/kubernetes"))).toBe(false);
});

test("chrony's config: the copy the time phase kept is put back, a node without one keeps its file", async () => {
  const host = new DirHost(join(root, "chrony"), "node1");
  mkdirSync(host.local("/etc/chrony"), { recursive: true });
  writeFileSync(host.local("/etc/chrony/chrony.conf"), "ours\n");
  writeFileSync(host.local("/etc/chrony/chrony.conf.k8s-ha-offline.orig"), "the package's\n");
  writeFileSync(host.local("/etc/chrony.conf"), "no copy kept\n");
  await host.exec(restoreChronyOriginal());
  expect(readdirSync(host.local("/etc/chrony"))).toEqual(["chrony.conf"]);
  expect(readFileSync(host.local("/etc/chrony/chrony.conf"), "utf8")).toBe("the package's\n");
  expect(readFileSync(host.local("/etc/chrony.conf"), "utf8")).toBe("no copy kept\n");
  const svc = String(resetServicesScript(config, planNodeReset(config, config.hosts[3]!, { purgePackages: true })));
  expect(svc.indexOf(String(restoreChronyOriginal()))).toBeLessThan(svc.indexOf("yum remove"));
});

test("master1 also loses the state directory; --purge-packages takes the record along, only then", () => {
  const m1 = planNodeReset(config, config.hosts[0]!, { purgePackages: false });
  expect(m1.paths).toContain("/var/lib/k8s-ha-offline");
  expect(m1.paths).not.toContain("/var/lib/k8s-ha-offline-node");
  expect(planNodeReset(config, config.hosts[3]!, { purgePackages: false }).paths).not.toContain("/var/lib/k8s-ha-offline");
  const purge = planNodeReset(config, config.hosts[3]!, { purgePackages: true });
  expect(purge.paths).toContain("/var/lib/k8s-ha-offline-node");
  const svc = String(resetServicesScript({ ...config, bundle: { ...config.bundle, profile: "debian12" } }, purge));
  expect(svc).toContain("apt-get purge -y -q $(cat /var/lib/k8s-ha-offline-node/packages-added)");
  expect(String(resetServicesScript(config, purge))).toContain("yum remove -y -q $(cat /var/lib/k8s-ha-offline-node/packages-added)");
  expect(String(resetServicesScript(config, m1))).not.toMatch(/purge|remove -y/);
});

test("services: every install service stopped and disabled; the VIP released on control planes only", () => {
  const m2 = String(resetServicesScript(config, planNodeReset(config, config.hosts[1]!, { purgePackages: false })));
  for (const s of RESET_SERVICES) expect(m2).toContain(s.includes(".") ? s : `${s}.service`);
  expect(m2).toContain("systemctl disable --now");
  expect(m2).toContain("kubeadm reset -f");
  expect(m2).toContain("-v a=10.77.0.100");
  expect(String(resetServicesScript(config, planNodeReset(config, config.hosts[3]!, { purgePackages: false })))).not.toContain("10.77.0.100");
});

test("reset --node refuses master1, an etcd member and the last control plane; a worker is fine", () => {
  expect(nodeResetRefusal(config, "master1")).toMatch(/master1 is master1, where the installer/);
  expect(nodeResetRefusal(config, "master3")).toMatch(/one of 3 etcd members \(quorum 2\)/);
  expect(nodeResetRefusal(config, "node1")).toBeUndefined();
  expect(nodeResetRefusal(config, "ghost")).toMatch(/ghost is not in/);
  const two = { ...config, hosts: config.hosts.filter((h) => h.name !== "master3") };
  expect(nodeResetRefusal(two, "master2")).toMatch(/one of 2 etcd members: without it the others \(1\) lose quorum \(2 needed\)/);
  const lonely = { ...config, hosts: [{ ...config.hosts[0]!, roles: ["control-plane" as const] }, config.hosts[3]!] };
  expect(nodeResetRefusal(lonely, "master1")).toMatch(/master1 is the last control plane/);
});
