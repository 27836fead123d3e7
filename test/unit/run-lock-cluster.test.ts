// The run lock is cluster-wide: a changing command takes it on every reachable master, in config order.
import { expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DirHost } from "./support/dir-host.ts";
import { acquireClusterLock, acquireRunLock, type LockMaster } from "../../src/cli/run-lock.ts";
import { HostError, type Host } from "../../src/hosts/host.ts";

const STATE = "/var/lib/k8s-ha-offline";
const LOCK = `${STATE}/run.lock`;
const ticks = (pid: number) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]!;

function masters() {
  const base = mkdtempSync(join(tmpdir(), "cluster-lock-"));
  const [m2, m3] = ["master2", "master3"].map((n) => new DirHost(join(base, n), n)) as [DirHost, DirHost];
  const list: LockMaster[] = [m2, m3].map((h) => ({ name: h.name, host: async () => h as Host }));
  const put = (h: DirHost, holder: object) => {
    mkdirSync(dirname(h.local(LOCK)), { recursive: true });
    writeFileSync(h.local(LOCK), JSON.stringify(holder));
  };
  const warnings: string[] = [];
  const take = (ms: LockMaster[] = list) => acquireClusterLock({ self: "master1", masters: ms, stateDir: STATE, command: "install", warn: (m) => warnings.push(m) });
  return { m2, m3, list, put, warnings, take };
}

test("the lock is taken on every other master naming this node and pid; release removes it", async () => {
  const c = masters();
  const release = await c.take();
  for (const h of [c.m2, c.m3]) expect(JSON.parse(readFileSync(h.local(LOCK), "utf8"))).toMatchObject({ node: "master1", pid: process.pid, command: "install" });
  await release();
  expect(existsSync(c.m2.local(LOCK)) || existsSync(c.m3.local(LOCK))).toBe(false);
});

test("a live run from another master holds it: refused naming that master and pid, and nothing stays taken", async () => {
  const c = masters();
  const other = Bun.spawn(["sleep", "30"]);
  try {
    // The holder runs on master2 (its pid is asked there: a DirHost runs on this machine).
    c.put(c.m3, { node: "master2", pid: other.pid, since: ticks(other.pid), command: "renew-certs", started: "2026-12-01T01:00:00Z" });
    await expect(c.take()).rejects.toThrow(`another k8s-ha-offline renew-certs from master2 (pid ${other.pid}, since 2026-12-01T01:00:00Z) is changing the cluster (its lock is ${LOCK} on master3)`);
    expect(existsSync(c.m2.local(LOCK))).toBe(false); // the lock taken on master2 before was given back
  } finally {
    other.kill("SIGKILL");
  }
});

test("a killed holder's lock is taken over (pid gone, or reused by another process)", async () => {
  const c = masters();
  const dead = Bun.spawn(["true"]);
  await dead.exited;
  c.put(c.m2, { node: "master3", pid: dead.pid, since: "1", command: "install", started: "x" });
  const reused = Bun.spawn(["sleep", "30"]);
  c.put(c.m3, { node: "master2", pid: reused.pid, since: "0", command: "install", started: "x" });
  try {
    const release = await c.take();
    expect(JSON.parse(readFileSync(c.m2.local(LOCK), "utf8")).node).toBe("master1");
    expect(JSON.parse(readFileSync(c.m3.local(LOCK), "utf8")).node).toBe("master1");
    await release();
  } finally {
    reused.kill("SIGKILL");
  }
});

test("an unreachable master is skipped with a warning; a holder on an unreachable master is refused, saying what to do", async () => {
  const c = masters();
  const down: LockMaster = { name: "master2", host: async () => { throw new HostError("master2", "cannot connect: timed out"); } };
  const release = await c.take([down, c.list[1]!]);
  expect(c.warnings).toEqual(["warning: master2 is not reachable, its run lock is not taken: cannot connect: timed out"]);
  await release();
  c.put(c.m3, { node: "master2", pid: 4242, since: "7", command: "install", started: "x" });
  await expect(c.take([down, c.list[1]!])).rejects.toThrow(`and master2 cannot be asked whether it still runs; when you are sure it does not, remove ${LOCK} on master3`);
});

test("the local lock refuses a run holding it from another master", () => {
  const d = mkdtempSync(join(tmpdir(), "run-lock-"));
  writeFileSync(join(d, "run.lock"), JSON.stringify({ node: "master2", pid: 1, since: "not-pid-1s",  command: "install", started: "t" }));
  expect(() => acquireRunLock(d, "renew-certs", "master1")).toThrow("another k8s-ha-offline install is running from master2 (pid 1, since t)");
  acquireRunLock(d, "renew-certs", "master2")(); // its own node: liveness checked here, pid 1 is not that holder
});

test("a lock of an older version (no node) is the master's own: its liveness is asked there", async () => {
  const c = masters();
  const other = Bun.spawn(["sleep", "30"]);
  try {
    c.put(c.m3, { pid: other.pid, since: ticks(other.pid), command: "install", started: "t" });
    await expect(c.take()).rejects.toThrow(`another k8s-ha-offline install from master3 (pid ${other.pid}, since t) is changing the cluster`);
  } finally {
    other.kill("SIGKILL");
  }
});
