// The etcd snapshot of a backup against a real etcd (TLS, client-cert auth) on loopback: save and
// status through the same code the backup runs, then restore into a new data directory and start a
// new etcd on it — it holds exactly what the cluster held at the snapshot, nothing written after.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { startEtcd } from "../kube-standin/harness.ts";
import { DirHost } from "./support/dir-host.ts";
import { sh } from "../../src/util/sh.ts";
import { restoreSnapshot, snapshotHashProblem, snapshotStatus, takeSnapshot } from "../../src/ops/backup-snapshot.ts";

const root = mkdtempSync(join(tmpdir(), "backup-snapshot-"));
const host = new DirHost(root, "m1");
const base = 21000 + Math.floor(Math.random() * 8000);
const procs: ChildProcess[] = [];
let etcd: Awaited<ReturnType<typeof startEtcd>>;

const b64 = (s: string) => Buffer.from(s).toString("base64");
const api = (e: typeof etcd, path: string, body: unknown) =>
  fetch(`${e.url}/v3/${path}`, { method: "POST", body: JSON.stringify(body), tls: e.tls } as RequestInit).then((r) => r.json() as Promise<any>);
const put = async (e: typeof etcd, from: number, to: number) => {
  for (let i = from; i < to; i++) await api(e, "kv/put", { key: b64(`k/${String(i).padStart(4, "0")}`), value: b64(`v${i}`) });
};
const count = async (e: typeof etcd) => Number((await api(e, "kv/range", { key: b64("k/"), range_end: b64("k0"), count_only: true })).count ?? 0);

beforeAll(async () => {
  // The node's etcdctl is where the etcd phase installs it; here the machine's.
  mkdirSync(join(root, "usr/local/bin"), { recursive: true });
  mkdirSync(join(root, "tmp"), { recursive: true });
  symlinkSync(Bun.which("etcdctl") ?? "/usr/bin/etcdctl", join(root, "usr/local/bin/etcdctl"));
  etcd = await startEtcd(join(root, "e1"), base, base + 1);
  procs.push(etcd.proc);
});
afterAll(() => {
  for (const p of procs) p.kill();
  rmSync(root, { recursive: true, force: true });
});

test("snapshot save/status/restore round trip: 500 keys before, 100 after → the restored member has exactly the 500", async () => {
  await put(etcd, 0, 500);
  const client = (args: ReturnType<typeof sh>) => sh`ETCDCTL_API=3 etcdctl --endpoints=${etcd.url} --cacert=${etcd.pki.ca} --cert=${etcd.pki.cert} --key=${etcd.pki.key} ${args}`;
  const snap = await takeSnapshot(host, client, "s1");
  expect(snap.status.member).toBe("s1");
  expect(snap.status.totalKey).toBeGreaterThanOrEqual(500);
  // The database, then the sha256 etcd appends to it.
  expect(snap.data.length).toBe(snap.status.totalSize + 32);
  expect(snapshotHashProblem(snap.data)).toBeUndefined();
  await put(etcd, 500, 600);
  expect(await count(etcd)).toBe(600);

  writeFileSync(join(root, "snap.db"), snap.data);
  const again = await snapshotStatus(host, "/snap.db");
  expect(again).toEqual({ hash: snap.status.hash, revision: snap.status.revision, totalKey: snap.status.totalKey, totalSize: snap.status.totalSize });

  const peer2 = base + 3;
  const me = { name: "s1", peerUrl: `http://127.0.0.1:${peer2}` };
  await restoreSnapshot(host, "/snap.db", "/e2/data", me, `s1=${me.peerUrl}`, "etcd-restored-test");
  const restored = await startEtcd(join(root, "e2"), base + 2, peer2);
  procs.push(restored.proc);
  expect(await count(restored)).toBe(500);
  const last = await api(restored, "kv/range", { key: b64("k/0599") });
  expect(last.kvs).toBeUndefined();
}, 120_000);

test("a damaged snapshot fails its status check with etcdctl's reason", async () => {
  const client = (args: ReturnType<typeof sh>) => sh`ETCDCTL_API=3 etcdctl --endpoints=${etcd.url} --cacert=${etcd.pki.ca} --cert=${etcd.pki.cert} --key=${etcd.pki.key} ${args}`;
  const snap = await takeSnapshot(host, client, "s1");
  const bad = Buffer.from(snap.data);
  bad.fill(0x5a, 4096, 4096 + 64); // damage a page in the middle
  writeFileSync(join(root, "bad.db"), bad.subarray(0, bad.length));
  writeFileSync(join(root, "short.db"), snap.data.subarray(0, 1000));
  await expect(snapshotStatus(host, "/short.db")).rejects.toThrow(/the etcd snapshot is damaged/);
  // status reads only the pages it needs: the hash etcd appended catches a change anywhere.
  expect(snapshotHashProblem(bad)).toMatch(/does not match the sha256 etcd appended/);
  expect(snapshotHashProblem(snap.data.subarray(0, 1000))).toMatch(/truncated/);
}, 60_000);
