// `backup` end to end on DirHost nodes shaped like the lab (3 masters that are etcd members, 1
// worker): the PKI of every master and member, the state without logs/ and backups/, cluster.yaml,
// a real etcd snapshot (etcdctl on the nodes is a wrapper that answers health and hands out a
// snapshot a real etcd saved) — then the archive opens, verifies, and restores the snapshot.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { startEtcd } from "../kube-standin/harness.ts";
import { DirHost } from "./support/dir-host.ts";
import { labCluster } from "./support/cluster-fixture.ts";
import { createCa } from "../../src/pki/ca.ts";
import { sh } from "../../src/util/sh.ts";
import type { HostSpec } from "../../src/config/types.ts";
import { takeSnapshot } from "../../src/ops/backup-snapshot.ts";
import { openArchive, certFingerprint, SNAPSHOT } from "../../src/ops/backup-archive.ts";
import { makeBackup, checkSnapshot, compareCas } from "../../src/ops/backup.ts";

const root = mkdtempSync(join(tmpdir(), "backup-make-"));
const procs: ChildProcess[] = [];
afterAll(() => {
  for (const p of procs) p.kill();
  rmSync(root, { recursive: true, force: true });
});
const config = { ...labCluster("/var/lib/k8s-ha-offline"), source: "/root/cluster.yaml" };
const hosts = new Map(config.hosts.map((h) => [h.name, new DirHost(join(root, h.name), h.name, h.address)]));
const put = (node: string, path: string, content: string, mode = 0o644) => {
  const p = join(root, node, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content, { mode });
};
const pems: Record<string, string> = {};
const logged: string[] = [];
const ctx = () => ({
  config,
  host: async (s: HostSpec) => hosts.get(s.name)!,
  local: hosts.get("master1")!,
  stateDir: config.stateDir,
  lock: null,
  log: { info: (m: string) => logged.push(m), warn() {}, error() {}, debug() {} } as never,
});

beforeAll(async () => {
  // A real snapshot, saved from a real etcd with 50 keys.
  const base = 29000 + Math.floor(Math.random() * 900);
  const etcd = await startEtcd(join(root, "etcd"), base, base + 1);
  procs.push(etcd.proc);
  for (let i = 0; i < 50; i++)
    await fetch(`${etcd.url}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: btoa(`k/${i}`), value: btoa("v") }), tls: etcd.tls } as RequestInit);
  // Rooted at the test's directory, so the etcd PKI paths under it are left as they are.
  const saver = new DirHost(root);
  mkdirSync(join(root, "tmp"), { recursive: true });
  mkdirSync(join(root, "usr/local/bin"), { recursive: true });
  symlinkSync(Bun.which("etcdctl") ?? "/usr/bin/etcdctl", join(root, "usr/local/bin/etcdctl"));
  const snap = await takeSnapshot(saver, (a) => sh`ETCDCTL_API=3 etcdctl --endpoints=${etcd.url} --cacert=${etcd.pki.ca} --cert=${etcd.pki.cert} --key=${etcd.pki.key} ${a}`, "s1");
  writeFileSync(join(root, "fixture.db"), snap.data);

  for (const n of ["kubernetes", "front-proxy", "etcd"]) pems[n] = (await createCa({ commonName: `${n}-ca` })).certPem;
  for (const h of config.hosts) {
    mkdirSync(join(root, h.name, "tmp"), { recursive: true });
    // etcdctl on the node: health answers yes, snapshot save hands out the real snapshot, the rest is the real etcdctl.
    put(h.name, "/usr/local/bin/etcdctl", `#!/bin/sh\ncase "$*" in\n  *"endpoint health"*) exit 0;;\n  *"snapshot save"*) for a; do last=$a; done; cp ${join(root, "fixture.db")} "$last";;\n  *) exec ${Bun.which("etcdctl") ?? "/usr/bin/etcdctl"} "$@";;\nesac\n`, 0o755);
    if (h.roles.includes("control-plane")) {
      put(h.name, "/etc/kubernetes/pki/ca.crt", pems.kubernetes!);
      put(h.name, "/etc/kubernetes/pki/ca.key", "KEY kubernetes\n", 0o600);
      put(h.name, "/etc/kubernetes/pki/front-proxy-ca.crt", pems["front-proxy"]!);
      put(h.name, "/etc/kubernetes/pki/sa.key", "SA\n", 0o600);
      put(h.name, "/etc/kubernetes/admin.conf", "not in the backup\n", 0o600);
    }
    if (h.roles.includes("etcd")) {
      put(h.name, "/etc/etcd/pki/ca.crt", pems.etcd!);
      put(h.name, "/etc/etcd/pki/server.key", `server key of ${h.name}\n`, 0o600);
    }
  }
  put("master1", "/var/lib/k8s-ha-offline/secrets.json", '{"a":"b"}\n', 0o600);
  put("master1", "/var/lib/k8s-ha-offline/pki/etcd-ca.key", "ETCD CA KEY\n", 0o600);
  put("master1", "/var/lib/k8s-ha-offline/logs/install.log", "log\n");
  put("master1", "/var/lib/k8s-ha-offline/backups/old.tar", "old\n");
  put("master1", "/var/lib/k8s-ha-offline/run.lock", "{}\n");
  put("master1", "/root/cluster.yaml", "name: lab\n", 0o600);
}, 60_000);

test("backup holds the snapshot, every master's and member's PKI, the state without logs/backups, cluster.yaml", async () => {
  const { bytes, manifest } = await makeBackup(ctx(), "pw", new Date("2026-12-01T01:00:00Z"));
  expect(manifest.snapshot.member).toBe("master1");
  expect(manifest.snapshot.totalKey).toBeGreaterThanOrEqual(50);
  expect(manifest.caFingerprints).toEqual({ kubernetes: certFingerprint(pems.kubernetes!), "front-proxy": certFingerprint(pems["front-proxy"]!), etcd: certFingerprint(pems.etcd!) });
  const paths = manifest.files.map((f) => f.path);
  expect(paths[0]).toBe(SNAPSHOT);
  for (const m of ["master1", "master2", "master3"])
    for (const p of ["etc/kubernetes/pki/ca.crt", "etc/kubernetes/pki/ca.key", "etc/kubernetes/pki/sa.key", "etc/kubernetes/pki/front-proxy-ca.crt", "etc/etcd/pki/ca.crt", "etc/etcd/pki/server.key"])
      expect(paths).toContain(`nodes/${m}/${p}`);
  expect(paths).toContain("state/secrets.json");
  expect(paths).toContain("state/pki/etcd-ca.key");
  expect(paths).toContain("cluster.yaml");
  expect(paths.filter((p) => /logs|backups|run\.lock|admin\.conf|node1/.test(p))).toEqual([]);
  expect(manifest.files.find((f) => f.path === "nodes/master2/etc/etcd/pki/server.key")!.mode).toBe(0o600);
  // The nodes keep no copy of the snapshot.
  for (const h of hosts.values()) expect((await h.exec(sh`ls -A /tmp`)).stdout.trim()).toBe("");

  const opened = await openArchive(bytes, "b.tar.enc", "pw");
  expect(new TextDecoder().decode(opened.files.get("state/pki/etcd-ca.key")!.data)).toBe("ETCD CA KEY\n");
  expect(await checkSnapshot(hosts.get("master1")!, opened)).toMatch(/^revision \d+, \d+ keys, hash \d+, from master1$/);
  expect((await compareCas(ctx(), opened.manifest)).every((r) => r.verdict === "match")).toBe(true);
  expect(Buffer.from(opened.files.get(SNAPSHOT)!.data).equals(readFileSync(join(root, "fixture.db")))).toBe(true);
  expect(logged.some((l) => /etcd snapshot from master1 \(\d+\.\d s\)/.test(l))).toBe(true);
}, 60_000);

test("with thisNode (the timer's run on master2) only master2 is read", async () => {
  const { manifest } = await makeBackup(ctx(), undefined, new Date(), config.hosts[1]!);
  expect(manifest.snapshot.member).toBe("master2");
  expect(manifest.files.filter((f) => f.path.startsWith("nodes/")).every((f) => f.path.startsWith("nodes/master2/"))).toBe(true);
}, 60_000);
