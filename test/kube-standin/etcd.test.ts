// The state store: etcd's v3 JSON gateway with client-certificate auth, and the optimistic
// read-modify-write that keeps concurrent PATCHes (kubelet status vs kubeadm labels) from losing writes.
import { afterAll, beforeAll, expect, test } from "bun:test";
import fs from "node:fs";
import { startEtcd, stopProc, tmpdir } from "./harness.ts";
import { Etcd } from "./lib/etcd.ts";

const dir = tmpdir("kube-standin-etcd-");
let server: Awaited<ReturnType<typeof startEtcd>>, etcd: Etcd;

beforeAll(async () => {
  server = await startEtcd(dir, 5331, 5332);
  etcd = new Etcd([server.url], { caFile: server.pki.ca, certFile: server.pki.cert, keyFile: server.pki.key });
}, 60_000);

afterAll(() => {
  stopProc(server?.proc);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("put, get, list by prefix, delete", async () => {
  await etcd.put("t/a", { n: 1 });
  await etcd.put("t/b", { n: 2 });
  await etcd.put("u/c", { n: 3 });
  expect(await etcd.get1("t/a")).toEqual({ n: 1 });
  expect([...(await etcd.list("t/")).entries()]).toEqual([["a", { n: 1 }], ["b", { n: 2 }]]);
  expect(await etcd.del("t/", true)).toBe(2);
  expect(await etcd.get1("t/a")).toBeNull();
});

test("concurrent updates of one key all land", async () => {
  await Promise.all(Array.from({ length: 10 }, (_, i) => etcd.update<Record<string, number>>("race", (old) => ({ ...(old ?? {}), [`k${i}`]: i }))));
  expect(Object.keys((await etcd.get1("race"))!).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`).sort());
});

test("a second endpoint is tried when the first does not answer", async () => {
  const failover = new Etcd(["https://127.0.0.1:5399", server.url], { caFile: server.pki.ca, certFile: server.pki.cert, keyFile: server.pki.key });
  await failover.put("f", { ok: true });
  expect(await failover.get1("f")).toEqual({ ok: true });
});

test("the gateway refuses a client without the certificate", async () => {
  const res = await fetch(`${server.url}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: "eA==" }), tls: { ca: server.tls.ca } } as RequestInit).catch((e) => e);
  expect(res instanceof Response ? res.ok : false).toBe(false);
});

/** A member after a power cut: TCP connects (or hangs) but nothing ever answers. */
function blackHole() {
  let connections = 0;
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open() { connections++; }, data() {} } });
  return { url: `https://127.0.0.1:${server.port}`, connections: () => connections, stop: () => server.stop(true) };
}

test("a black-holed member costs one short attempt, not every request (etcd client balancing)", async () => {
  const hole = blackHole();
  try {
    const client = new Etcd([hole.url, server.url], { caFile: server.pki.ca, certFile: server.pki.cert, keyFile: server.pki.key });
    for (let i = 0; i < 10; i++) await client.put(`bh/${i}`, { i });
    expect((await client.list("bh/")).size).toBe(10);
    // Round-robin would send half of the 11 calls to the dead member; once it failed it is left out.
    expect(hole.connections()).toBe(1);
  } finally {
    hole.stop();
  }
});

test("with no member answering, requests fail (an apiserver without etcd is not ready)", async () => {
  const a = blackHole();
  const b = blackHole();
  try {
    const client = new Etcd([a.url, b.url], { caFile: server.pki.ca, certFile: server.pki.cert, keyFile: server.pki.key });
    expect(client.get1("x")).rejects.toThrow(/no etcd endpoint answered/);
    await Bun.sleep(10);
  } finally {
    a.stop();
    b.stop();
  }
}, 30_000);
