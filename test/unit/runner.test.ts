// The phase runner's logic without a network: phases here touch nothing but memory, which is
// what the runner is about (order, checks, failures, resume). The real phases are proven on the lab.
import { expect, test } from "bun:test";
import { selectPhases, runPhases, PhaseFailure, describePlan } from "../../src/phases/runner.ts";
import type { Phase, PhaseContext } from "../../src/phases/phase.ts";
import type { Progress } from "../../src/cli/progress.ts";
import { UsageError } from "../../src/util/errors.ts";
import { HostError } from "../../src/hosts/host.ts";
import { seedConfig } from "./support/seed-config.ts";
import { summaryTable } from "../../src/cli/progress.ts";

const config = seedConfig();
const silent: Progress = { print() {}, phaseStarted() {}, hostStarted() {}, hostFinished() {}, phaseFinished() {}, stop() {} };
const ctx = { config, log: { info() {}, warn() {}, debug() {} } } as unknown as PhaseContext;

/** A phase over an in-memory "node state": done[host] says whether its work is there. */
function memoryPhase(name: string, mode: Phase["mode"], done: Record<string, boolean>, order: string[], failOn?: string): Phase {
  return {
    name,
    title: `${name} phase`,
    mode,
    hosts: (c) => c.hosts,
    check: async (_c, n) => (done[`${name}/${n.name}`] ? { todo: false } : { todo: true, why: "not done" }),
    run: async (_c, n) => {
      order.push(`${name}/${n.name}`);
      if (n.name === failOn) throw new Error(`boom on ${n.name}`);
      done[`${name}/${n.name}`] = true;
    },
  };
}

test("--only and --from select phases, unknown names are a usage error listing the valid ones", () => {
  const order: string[] = [];
  const all = ["a", "b", "c"].map((n) => memoryPhase(n, "parallel", {}, order));
  expect(selectPhases(all, { only: ["c", "a"] }).map((p) => p.name)).toEqual(["a", "c"]);
  expect(selectPhases(all, { from: "b" }).map((p) => p.name)).toEqual(["b", "c"]);
  expect(() => selectPhases(all, { only: ["x"] })).toThrow(UsageError);
  try {
    selectPhases(all, { from: "zz" });
  } catch (e) {
    expect((e as UsageError).hint).toContain("a, b, c");
  }
});

test("a second run finds nothing to do", async () => {
  const done: Record<string, boolean> = {};
  const order: string[] = [];
  const phases = [memoryPhase("a", "parallel", done, order), memoryPhase("b", "once", done, order)];
  await runPhases(phases, ctx, { concurrency: 4 }, silent);
  expect(order).toEqual(["a/master1", "a/master2", "a/master3", "a/node1", "b/master1"]);
  const again = await runPhases(phases, ctx, { concurrency: 4 }, silent);
  expect(again.flatMap((o) => o.hosts.map((h) => h.status))).toEqual(Array(5).fill("nothing to do"));
  expect(order.length).toBe(5);
});

test("a failing host stops the run after its phase, every other host's result is kept, a re-run resumes", async () => {
  const done: Record<string, boolean> = {};
  const order: string[] = [];
  let failOn: string | undefined = "master2";
  const flaky: Phase = { ...memoryPhase("a", "parallel", done, order), run: async (c, n) => memoryPhase("a", "parallel", done, order, failOn).run(c, n) };
  const phases = [flaky, memoryPhase("b", "parallel", done, order)];
  const err = await runPhases(phases, ctx, { concurrency: 2 }, silent).catch((e) => e);
  expect(err).toBeInstanceOf(PhaseFailure);
  expect(err.message).toContain("master2: boom on master2");
  expect(err.outcomes[0].hosts.map((h: { status: string }) => h.status)).toEqual(["done", "failed", "done", "done"]);
  expect(order.some((o) => o.startsWith("b/"))).toBe(false);
  failOn = undefined;
  const outcomes = await runPhases(phases, ctx, { concurrency: 2 }, silent);
  expect(outcomes[0]!.hosts.map((h) => h.status)).toEqual(["nothing to do", "done", "nothing to do", "nothing to do"]);
  expect(summaryTable(outcomes)).toMatch(/a\s+[\d.]+s\s+1 done, 3 nothing to do/);
});

test("a host error is shown under its node with its reason alone; other errors keep their whole text", async () => {
  const failing: Phase = {
    ...memoryPhase("a", "parallel", {}, []),
    run: async (_c, n) => {
      if (n.name === "master2") throw new HostError("master2", "connection lost while running: systemctl daemon-reload");
      if (n.name === "master3") throw new Error("master3: said by kubeadm");
    },
  };
  const err = await runPhases([failing], ctx, { concurrency: 4 }, silent).catch((e) => e);
  const details = Object.fromEntries(err.outcomes[0].hosts.filter((h: { status: string }) => h.status === "failed").map((h: { host: string; detail: string }) => [h.host, h.detail]));
  expect(details).toEqual({ master2: "connection lost while running: systemctl daemon-reload", master3: "master3: said by kubeadm" });
  expect(err.message).toContain("  master2: connection lost while running");
  expect(err.message).not.toContain("master2: master2:");
});

test("serial phases stop at the first failure and mark the rest not reached", async () => {
  const order: string[] = [];
  const p = memoryPhase("join", "serial", {}, order, "master2");
  const err = await runPhases([p], ctx, { concurrency: 4 }, silent).catch((e) => e);
  expect(order).toEqual(["join/master1", "join/master2"]);
  expect(err.outcomes[0].hosts.map((h: { status: string }) => h.status)).toEqual(["done", "failed", "not reached", "not reached"]);
});

test("a parallel phase never runs more hosts at once than the concurrency", async () => {
  let now = 0;
  let peak = 0;
  const p: Phase = {
    name: "slow", title: "slow", mode: "parallel", hosts: (c) => c.hosts,
    check: async () => ({ todo: true, why: "x" }),
    run: async () => {
      peak = Math.max(peak, ++now);
      await Bun.sleep(20);
      now--;
    },
  };
  await runPhases([p], ctx, { concurrency: 2 }, silent);
  expect(peak).toBe(2);
});

test("the plan names every phase with its hosts", () => {
  const plan = describePlan([memoryPhase("a", "parallel", {}, []), memoryPhase("b", "once", {}, [])], { config });
  expect(plan).toContain("in parallel on master1, master2, master3, node1");
  expect(plan).toContain("once, on master1");
});
