// Installer state on every master: copied after a change, only what changed, a stale copy refused.
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirHost } from "./support/dir-host.ts";
import { assertNewestState, collectState, readManifest, replicateState, stateCopyCommand } from "../../src/cluster/state-replica.ts";
import { HostError, type Host } from "../../src/hosts/host.ts";

const STATE = "/var/lib/k8s-ha-offline";

function cluster() {
  const base = mkdtempSync(join(tmpdir(), "state-replica-"));
  const node = (name: string) => new DirHost(join(base, name), name);
  const [m1, m2, m3] = [node("master1"), node("master2"), node("master3")];
  const sd = m1.local(STATE);
  mkdirSync(join(sd, "pki/etcd"), { recursive: true });
  mkdirSync(join(sd, "logs"), { recursive: true });
  writeFileSync(join(sd, "state.json"), '{"phases":["os"]}');
  writeFileSync(join(sd, "secrets.json"), '{"vrrp":"abc123"}');
  writeFileSync(join(sd, "pki/etcd/ca.key"), "KEY");
  writeFileSync(join(sd, "logs/install.log"), "log");
  writeFileSync(join(sd, "run.lock"), "{}");
  const config = join(base, "cluster.yaml");
  writeFileSync(config, "name: lab\n");
  const peers = [m2, m3].map((h) => ({ name: h.name, host: async () => h as Host }));
  const warnings: string[] = [];
  const run = () => replicateState({ source: m1, peers, stateDir: STATE, files: collectState(sd, config), warn: (m) => warnings.push(m) });
  return { m1, m2, m3, sd, config, peers, warnings, run };
}

test("the state dir and the config reach every master 0600 in 0700 dirs, without logs or the run lock, with a manifest", async () => {
  const c = cluster();
  const r = await c.run();
  expect(r).toMatchObject({ generation: 1, updated: [{ node: "master2", files: 4 }, { node: "master3", files: 4 }], skipped: [] });
  for (const h of [c.m2, c.m3]) {
    expect(readFileSync(h.local(`${STATE}/pki/etcd/ca.key`), "utf8")).toBe("KEY");
    expect(readFileSync(h.local(`${STATE}/cluster.yaml`), "utf8")).toBe("name: lab\n");
    expect(statSync(h.local(`${STATE}/secrets.json`)).mode & 0o777).toBe(0o600);
    expect(statSync(h.local(`${STATE}/pki`)).mode & 0o777).toBe(0o700);
    expect(existsSync(h.local(`${STATE}/logs`))).toBe(false);
    expect(existsSync(h.local(`${STATE}/run.lock`))).toBe(false);
    expect(await readManifest(h, STATE)).toMatchObject({ generation: 1, writtenBy: "master1" });
  }
  expect((await readManifest(c.m1, STATE))?.files["pki/etcd/ca.key"]).toBe(new Bun.CryptoHasher("sha256").update("KEY").digest("hex"));
});

test("nothing changed: same generation, nothing written; one file changed: only it is sent, generation + 1; a removed file goes", async () => {
  const c = cluster();
  await c.run();
  const writes = c.m2.commands.length;
  const again = await c.run();
  expect(again).toMatchObject({ generation: 1, updated: [], current: ["master2", "master3"] });
  expect(c.m2.commands.length - writes).toBe(1); // the manifest read alone
  writeFileSync(join(c.sd, "state.json"), '{"phases":["os","time"]}');
  expect(await c.run()).toMatchObject({ generation: 2, updated: [{ node: "master2", files: 1 }, { node: "master3", files: 1 }] });
  expect(readFileSync(c.m3.local(`${STATE}/state.json`), "utf8")).toContain("time");
  Bun.spawnSync(["rm", join(c.sd, "secrets.json")]);
  expect(await c.run()).toMatchObject({ generation: 3 });
  expect(existsSync(c.m2.local(`${STATE}/secrets.json`))).toBe(false);
});

test("an unreachable master is skipped with a warning naming it; the others still get the state", async () => {
  const c = cluster();
  const peers = [{ name: "master2", host: async (): Promise<Host> => { throw new HostError("master2", "cannot connect: timed out"); } }, c.peers[1]!];
  const r = await replicateState({ source: c.m1, peers, stateDir: STATE, files: collectState(c.sd, c.config), warn: (m) => c.warnings.push(m) });
  expect(r.skipped).toEqual([{ node: "master2", reason: "cannot connect: timed out" }]);
  expect(r.updated.map((u) => u.node)).toEqual(["master3"]);
  expect(c.warnings).toEqual(["warning: the installer state was not copied to master2: cannot connect: timed out"]);
});

test("a changing command on a master with a stale copy is refused, naming the newer master and both generations", async () => {
  const c = cluster();
  await c.run(); // generation 1 everywhere
  // master3 was off while master1 changed the cluster twice.
  const off = [c.peers[0]!];
  for (const s of ["a", "b"]) {
    writeFileSync(join(c.sd, "state.json"), s);
    await replicateState({ source: c.m1, peers: off, stateDir: STATE, files: collectState(c.sd, c.config), warn: () => {} });
  }
  const fromMaster3 = () => assertNewestState({ self: c.m3, peers: [{ name: "master1", route: { address: "10.0.0.11", port: 2222, user: "root", keyFile: "/root/.ssh/id ops" }, host: async () => c.m1 }, c.peers[0]!], stateDir: STATE, warn: () => {} });
  await expect(fromMaster3()).rejects.toThrow(
    "the state on master3 (generation 1) is older than master1's (generation 3): run on master1, or copy its state here first",
  );
  // The copy command goes the installer's own SSH route (address, port, key: a wiped master may not resolve
  // its peers' names, and its default key is not theirs) into a directory it makes.
  await expect(fromMaster3()).rejects.toThrow(`mkdir -p -m 700 ${STATE} && ssh -i '/root/.ssh/id ops' -p 2222 root@10.0.0.11 'tar -C ${STATE} -cf - .' | tar -C ${STATE} -xpf -`);
  // Its own is the newest: it runs.
  expect(await assertNewestState({ self: c.m1, peers: c.peers, stateDir: STATE, warn: () => {} })).toBe(3);
  // And master1 never overwrites a newer copy with an older one.
  const r = await replicateState({ source: c.m3, peers: [{ name: "master1", host: async () => c.m1 }], stateDir: STATE, files: collectState(c.m3.local(STATE), c.config), warn: () => {} });
  expect(r.skipped[0]?.reason).toContain("holds a newer state (generation 3)");
});

test("the state copy command goes through sudo for a non-root login and quotes what it names", () => {
  expect(stateCopyCommand("/srv/k8s state", { address: "10.0.0.12", port: 22, user: "ops" })).toBe(
    `mkdir -p -m 700 '/srv/k8s state' && ssh -p 22 ops@10.0.0.12 'sudo -n tar -C '\\''/srv/k8s state'\\'' -cf - .' | tar -C '/srv/k8s state' -xpf -`,
  );
});

test("within one run, a master known to hold this very manifest is not asked again; one that changed is", async () => {
  const c = cluster();
  const known = new Map<string, string>();
  const counting = (h: DirHost) => {
    let reads = 0;
    const host = new Proxy(h, { get: (t, k) => (k === "readFile" ? (p: string) => (reads++, t.readFile(p)) : Reflect.get(t, k, t)) }) as unknown as Host;
    return { host, reads: () => reads };
  };
  const p2 = counting(c.m2);
  const p3 = counting(c.m3);
  const peers = [{ name: "master2", host: async () => p2.host }, { name: "master3", host: async () => p3.host }];
  const run = () => replicateState({ source: c.m1, peers, stateDir: STATE, files: collectState(c.sd, c.config), warn: () => {}, known });
  expect((await run()).updated.length).toBe(2);
  const before = [p2.reads(), p3.reads()];
  // Nothing changed: nobody is asked.
  expect(await run()).toMatchObject({ current: ["master2", "master3"], updated: [] });
  expect([p2.reads(), p3.reads()]).toEqual(before);
  // The state changed: every master is asked and written again.
  writeFileSync(join(c.sd, "state.json"), '{"phases":["os","etcd"]}');
  expect((await run()).updated.map((u) => u.node)).toEqual(["master2", "master3"]);
  expect(readFileSync(c.m3.local(`${STATE}/state.json`), "utf8")).toBe('{"phases":["os","etcd"]}');
  // Without the run's memory (a new run), a master holding the same manifest is asked and found current.
  const fresh = await replicateState({ source: c.m1, peers, stateDir: STATE, files: collectState(c.sd, c.config), warn: () => {} });
  expect(fresh.current).toEqual(["master2", "master3"]);
});
