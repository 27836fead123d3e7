// One changing command at a time on master1; a lock left by a killed run is taken over.
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acquireRunLock } from "../../src/cli/run-lock.ts";

const dir = () => mkdtempSync(join(tmpdir(), "run-lock-"));

test("a second changing command is refused while the first runs, naming it; release frees the lock", () => {
  const d = dir();
  const release = acquireRunLock(d, "install");
  expect((readFileSync(join(d, "run.lock")).toString())).toContain(`"pid":${process.pid}`);
  // Another process holding it: this test's parent (bun's own pid is ours; use a live foreign one).
  const foreign = Bun.spawn(["sleep", "30"]);
  const since = readFileSync(`/proc/${foreign.pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19];
  release();
  expect(existsSync(join(d, "run.lock"))).toBe(false);
  writeFileSync(join(d, "run.lock"), JSON.stringify({ pid: foreign.pid, since, command: "install", started: "2026-11-25T10:00:00Z" }));
  expect(() => acquireRunLock(d, "remove-node")).toThrow(`another k8s-ha-offline install is running on this machine (pid ${foreign.pid}`);
  foreign.kill("SIGKILL");
});

test("the lock of a killed run (process gone, or its pid reused by another process) is taken over", async () => {
  const d = dir();
  const dead = Bun.spawn(["true"]);
  await dead.exited;
  writeFileSync(join(d, "run.lock"), JSON.stringify({ pid: dead.pid, since: "1", command: "install", started: "x" }));
  acquireRunLock(d, "install")();
  // pid alive but started at another time: not the holder.
  const other = Bun.spawn(["sleep", "30"]);
  writeFileSync(join(d, "run.lock"), JSON.stringify({ pid: other.pid, since: "0", command: "renew-certs", started: "x" }));
  const release = acquireRunLock(d, "install");
  expect(JSON.parse(readFileSync(join(d, "run.lock"), "utf8"))).toMatchObject({ pid: process.pid, command: "install" });
  release();
  other.kill("SIGKILL");
  // A half-written lock (its writer died mid-write) is not a holder either.
  writeFileSync(join(d, "run.lock"), "{\"pid\": 12");
  acquireRunLock(d, "install")();
});
