// renew-certs without a lab: nodes are directories (DirHost) holding a real kubeadm + etcd PKI made
// by src/pki; nothing listens on the loopback addresses they are given, so every apiserver and etcd
// member looks down — which is exactly when renew-certs must refuse to restart anything.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { labCluster } from "./support/cluster-fixture.ts";
import { DirHost } from "./support/dir-host.ts";
import { kubeadmLayout, type Layout } from "./support/kubeadm-layout.ts";
import { planEtcdPki, etcdCaStatePaths, type EtcdPkiPlan } from "../../src/pki/index.ts";
import {
  backupCerts,
  backupDirFor,
  describeRenewal,
  renewCerts,
  restartControlPlane,
  splitEtcdFiles,
  unparkManifests,
  RenewStopped,
  PARKED_MANIFESTS,
} from "../../src/ops/renew-certs.ts";
import { renewScope } from "../../src/cli/commands/renew-certs.ts";
import type { PhaseContext } from "../../src/phases/phase.ts";
import type { ClusterConfig } from "../../src/config/types.ts";

// Loopback addresses nothing listens on: curl and etcdctl are refused at once.
const base = labCluster();
const config: ClusterConfig = {
  ...base,
  hosts: base.hosts.map((h, i) => ({ ...h, address: `127.77.0.${11 + i}` })),
  loadBalancer: { ...base.loadBalancer, vip: "127.77.0.100" },
};
const MANIFESTS = ["kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"];

let layout: Layout;
let etcdPlan: EtcdPkiPlan;
const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

beforeAll(async () => {
  layout = (await kubeadmLayout(config)).layout;
  etcdPlan = await planEtcdPki(config);
}, 60_000);

interface Cluster {
  hosts: Map<string, DirHost>;
  ctx: PhaseContext;
  logs: string[];
}

/** Every node as a directory; master1's is also the local host, with the etcd CA in the state dir, as after install. */
function materialise(opts: { withEtcdCa?: boolean } = {}): Cluster {
  const root = mkdtempSync(join(tmpdir(), "renew-test-"));
  roots.push(root);
  const hosts = new Map(config.hosts.map((h) => [h.name, new DirHost(join(root, h.name), h.name, h.address)]));
  const put = (host: DirHost, path: string, content: string, mode: number) => {
    mkdirSync(dirname(host.local(path)), { recursive: true });
    writeFileSync(host.local(path), content, { mode });
  };
  for (const [node, files] of Object.entries(layout))
    for (const [path, content] of Object.entries(files)) put(hosts.get(node)!, path, content, path.endsWith(".key") ? 0o600 : 0o644);
  for (const f of etcdPlan.files) if (!f.state || opts.withEtcdCa !== false) put(hosts.get(f.node)!, f.path, f.content, f.mode);
  for (const m of config.hosts.filter((h) => h.roles.includes("control-plane")))
    for (const pod of MANIFESTS) put(hosts.get(m.name)!, `/etc/kubernetes/manifests/${pod}`, `# ${pod} of ${m.name}\n`, 0o600);
  const logs: string[] = [];
  const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(`warning: ${m}`), debug: () => {} };
  const ctx = {
    config,
    host: async (spec: { name: string }) => hosts.get(spec.name)!,
    local: hosts.get("master1")!,
    stateDir: config.stateDir,
    log,
  } as unknown as PhaseContext;
  return { hosts, ctx, logs };
}

/** Files under a directory, as node paths with content and mode. */
function tree(dir: string): Map<string, { content: string; mode: number }> {
  const out = new Map<string, { content: string; mode: number }>();
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(`/${relative(dir, p)}`, { content: readFileSync(p, "utf8"), mode: statSync(p).mode & 0o777 });
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

const certTree = (host: DirHost) =>
  new Map([...tree(host.root)].filter(([p]) => p.startsWith("/etc/kubernetes/pki/") || p.startsWith("/etc/etcd/pki/") || /^\/etc\/kubernetes\/[^/]+\.conf$/.test(p)));

describe("scope", () => {
  test("neither flag means both; one flag means only that one", () => {
    expect(renewScope({})).toEqual({ etcd: true, kubernetes: true });
    expect(renewScope({ etcd: true })).toEqual({ etcd: true, kubernetes: false });
    expect(renewScope({ kubernetes: true })).toEqual({ etcd: false, kubernetes: true });
    expect(renewScope({ etcd: true, kubernetes: true })).toEqual({ etcd: true, kubernetes: true });
  });

  test("the plan: backup first, then each etcd member, then each master; --kubernetes touches no etcd member", () => {
    const both = describeRenewal(config, { etcd: true, kubernetes: true }, "/b");
    expect(both[0]).toContain("/b");
    expect(both.slice(1).map((l) => l.split(":")[0])).toEqual(["etcd master1", "etcd master2", "etcd master3", "control plane master1", "control plane master2", "control plane master3"]);
    expect(both.at(-1)).toContain("kubeadm certs renew all");
    const kube = describeRenewal(config, { etcd: false, kubernetes: true }, "/b");
    expect(kube.filter((l) => l.startsWith("etcd"))).toEqual([]);
    expect(kube.join("\n")).not.toContain("apiserver-etcd-client");
    const etcd = describeRenewal(config, { etcd: true, kubernetes: false }, "/b");
    expect(etcd.join("\n")).not.toContain("kubeadm");
  });

  test("backup directories are named by UTC time without colons", () => {
    expect(backupDirFor("/var/lib/x", new Date("2026-11-25T13:04:05.678Z"))).toBe("/var/lib/x/backup/certs-2026-11-25T13-04-05Z");
  });
});

describe("etcd files by stage", () => {
  test("a member gets its /etc/etcd/pki files at its restart, a master its etcd client files at its control-plane restart", () => {
    for (const node of ["master1", "master2", "master3"]) {
      const { member, controlPlane } = splitEtcdFiles(etcdPlan.files, node);
      expect(member.map((f) => f.path).sort()).toEqual(
        ["ca.crt", "healthcheck-client.crt", "healthcheck-client.key", "peer.crt", "peer.key", "server.crt", "server.key"].map((f) => `/etc/etcd/pki/${f}`),
      );
      expect(controlPlane.map((f) => f.path).sort()).toEqual([
        "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        "/etc/kubernetes/pki/apiserver-etcd-client.key",
        "/etc/kubernetes/pki/etcd/ca.crt",
      ]);
      // Nothing of the node is left out, and nothing of the state dir is written to a node.
      expect(member.length + controlPlane.length).toBe(etcdPlan.files.filter((f) => !f.state && f.node === node).length);
    }
    expect(splitEtcdFiles(etcdPlan.files, "node1")).toEqual({ member: [], controlPlane: [] });
  });
});

describe("backup", () => {
  test("every node's pki, kubeconfigs and etcd pki, byte for byte with their modes, in a 0700 directory", async () => {
    const c = materialise();
    const nodes = config.hosts.filter((h) => h.roles.includes("control-plane"));
    const dir = backupDirFor(config.stateDir, new Date());
    const counts = await backupCerts(c.ctx, nodes, dir);
    const local = c.hosts.get("master1")!;
    expect(statSync(local.local(dir)).mode & 0o777).toBe(0o700);
    expect(statSync(dirname(local.local(dir))).mode & 0o777).toBe(0o700);
    for (const n of nodes) {
      const want = certTree(c.hosts.get(n.name)!);
      const got = tree(join(local.local(dir), n.name));
      expect(want.size).toBeGreaterThan(15);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [p, f] of want) expect(got.get(p)).toEqual(f);
      expect(counts[n.name]).toBe(want.size);
      expect(got.get("/etc/etcd/pki/server.key")!.mode).toBe(0o600);
    }
  });

  test("a node without any certificate gives an empty directory, not a failure", async () => {
    const c = materialise();
    const dir = backupDirFor(config.stateDir, new Date());
    const counts = await backupCerts(c.ctx, [config.hosts.find((h) => h.name === "node1")!], dir);
    // node1 (a worker) has the cluster CA and kubelet.conf.
    expect(counts).toEqual({ node1: certTree(c.hosts.get("node1")!).size });
    expect(counts.node1).toBe(2);
    rmSync(c.hosts.get("node1")!.local("/etc/kubernetes"), { recursive: true });
    const again = await backupCerts(c.ctx, [config.hosts.find((h) => h.name === "node1")!], `${dir}-2`);
    expect(again).toEqual({ node1: 0 });
  });
});

describe("control-plane restart", () => {
  test("the static pod manifests go away until the apiserver is gone, then come back unchanged", async () => {
    const c = materialise();
    const host = c.hosts.get("master2")!;
    const before = tree(host.local("/etc/kubernetes/manifests"));
    await restartControlPlane(host, config.hosts[1]!);
    expect(tree(host.local("/etc/kubernetes/manifests"))).toEqual(before);
    expect(existsSync(host.local(PARKED_MANIFESTS))).toBe(false);
    expect(host.commands.some((cmd) => cmd.includes("https://127.77.0.12:6443/healthz"))).toBe(true);
  });

  test("manifests parked by an interrupted run are put back; a clash with a manifest in place stops with what to do", async () => {
    const c = materialise();
    const host = c.hosts.get("master3")!;
    mkdirSync(host.local(PARKED_MANIFESTS), { recursive: true });
    for (const pod of MANIFESTS.slice(0, 2)) {
      writeFileSync(host.local(`${PARKED_MANIFESTS}/${pod}`), readFileSync(host.local(`/etc/kubernetes/manifests/${pod}`)));
      rmSync(host.local(`/etc/kubernetes/manifests/${pod}`));
    }
    await unparkManifests(host);
    expect(readdirSync(host.local("/etc/kubernetes/manifests")).sort()).toEqual([...MANIFESTS].sort());
    expect(existsSync(host.local(PARKED_MANIFESTS))).toBe(false);

    mkdirSync(host.local(PARKED_MANIFESTS));
    writeFileSync(host.local(`${PARKED_MANIFESTS}/kube-apiserver.yaml`), "# an older copy\n");
    const err = await unparkManifests(host).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain("kube-apiserver.yaml");
    expect(err.message).toContain("remove the directory");
    expect(readFileSync(host.local("/etc/kubernetes/manifests/kube-apiserver.yaml"), "utf8")).toBe("# kube-apiserver.yaml of master3\n");
  });
});

describe("stops before harming the cluster, naming the backup", () => {
  const certsOfAll = (c: Cluster) => new Map([...c.hosts].map(([n, h]) => [n, certTree(h)]));

  test("--kubernetes: no other master serves, so master1 is not restarted and kubeadm never runs", async () => {
    const c = materialise();
    const before = certsOfAll(c);
    const err = await renewCerts(c.ctx, { etcd: false, kubernetes: true }).catch((e) => e);
    expect(err).toBeInstanceOf(RenewStopped);
    expect(err.step).toStartWith("control plane master1");
    expect(err.message).toContain("no other master's apiserver is ready");
    expect(err.message).toContain(`${err.backupDir}/<node>/`);
    expect(err.message).toContain("Done before that: back up the certificates");
    expect(err.backupDir).toStartWith(`${config.stateDir}/backup/certs-`);
    // The backup is complete, nothing on the nodes changed, the manifests are where they were.
    for (const m of ["master1", "master2", "master3"]) expect(tree(join(c.hosts.get("master1")!.local(err.backupDir), m))).toEqual(before.get(m)!);
    expect(certsOfAll(c)).toEqual(before);
    for (const h of c.hosts.values()) expect(h.commands.filter((cmd) => /\bkubeadm\b/.test(cmd))).toEqual([]);
    expect(readdirSync(c.hosts.get("master1")!.local("/etc/kubernetes/manifests")).sort()).toEqual([...MANIFESTS].sort());
  }, 60_000);

  test("--kubernetes on a master without a control plane stops and says to install first", async () => {
    const c = materialise();
    rmSync(c.hosts.get("master1")!.local("/etc/kubernetes/manifests"), { recursive: true });
    const err = await renewCerts(c.ctx, { etcd: false, kubernetes: true }).catch((e) => e);
    expect(err).toBeInstanceOf(RenewStopped);
    expect(err.message).toContain("master1 has no control plane (no /etc/kubernetes/manifests/kube-apiserver.yaml): run install first");
    for (const h of c.hosts.values()) expect(h.commands.filter((cmd) => /\bkubeadm\b/.test(cmd))).toEqual([]);
  }, 60_000);

  test("--etcd: a member that is not healthy stops the roll before any certificate is written", async () => {
    const c = materialise();
    const before = certsOfAll(c);
    const err = await renewCerts(c.ctx, { etcd: true, kubernetes: false }).catch((e) => e);
    expect(err).toBeInstanceOf(RenewStopped);
    expect(err.step).toBe("etcd master1: new certificates in place");
    expect(err.message).toContain("could cost quorum");
    expect(err.message).toContain(err.backupDir);
    expect(certsOfAll(c)).toEqual(before);
    // The CA is only ever read: the one in the state dir is the same file.
    const state = etcdCaStatePaths(config.stateDir);
    expect(readFileSync(c.hosts.get("master1")!.local(state.key), "utf8")).toBe(etcdPlan.files.find((f) => f.path === state.key)!.content);
  }, 60_000);

  test("--etcd without the installer's etcd CA refuses to make a new one", async () => {
    const c = materialise({ withEtcdCa: false });
    const before = certsOfAll(c);
    const err = await renewCerts(c.ctx, { etcd: true, kubernetes: false }).catch((e) => e);
    expect(err).toBeInstanceOf(RenewStopped);
    expect(err.step).toBe("issue new etcd certificates from the installer's etcd CA");
    expect(err.message).toContain(`the etcd CA is not in ${config.stateDir}/pki`);
    expect(certsOfAll(c)).toEqual(before);
    expect(existsSync(c.hosts.get("master1")!.local(etcdCaStatePaths(config.stateDir).cert))).toBe(false);
  }, 60_000);
});

describe("command line", () => {
  const CLI = join(import.meta.dir, "../../src/cli.ts");
  const run = (args: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), "renew-cli-"));
    roots.push(dir);
    expect(Bun.spawnSync([process.execPath, CLI, "init", "-o", join(dir, "cluster.yaml")]).exitCode).toBe(0);
    const p = Bun.spawnSync([process.execPath, CLI, "renew-certs", "-c", join(dir, "cluster.yaml"), ...args], { cwd: dir });
    return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
  };

  test("--dry-run prints the steps in order and changes nothing (exit 0)", () => {
    const r = run(["--kubernetes", "--dry-run"]);
    expect(r.code).toBe(0);
    const steps = r.out.split("\n").filter((l) => /^\s+\d+\. /.test(l));
    expect(steps[0]).toMatch(/^\s+1\. back up the certificates of master1, master2, master3 to \/var\/lib\/k8s-ha-offline\/backup\/certs-[\dT-]+Z$/);
    expect(steps.slice(1).map((l) => l.trim().split(":")[0])).toEqual(["2. control plane master1", "3. control plane master2", "4. control plane master3"]);
  });

  test("anywhere but on a master it refuses with exit 2 and says where to run it, before touching any node", () => {
    const r = run(["--yes"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("renew-certs runs on a control-plane node (master1 192.168.217.19");
    expect(r.err).toContain("hint: copy the binary and the bundle to master1 (192.168.217.19)");
    expect(r.err).not.toMatch(/^\s+at .+[:(]\d+/m);
  });
});
