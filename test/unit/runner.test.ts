// The phase runner's logic without a network: phases here touch nothing but memory, which is
// what the runner is about (order, checks, failures, resume). The real phases are proven on the lab.
import { expect, test } from "bun:test";
import { selectPhases, runPhases, PhaseFailure, describePlan, type HostStatus, type PhaseOutcome } from "../../src/phases/runner.ts";
import { stepsPhase, todo, NOTHING, type Step } from "../../src/phases/steps.ts";
import { buildTimeline, timelineTable } from "../../src/cli/timeline.ts";
import { recordPhaseDone } from "../../src/phases/state.ts";
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

test("every node's outcome carries its start and check time; the timeline names the slowest node of each phase", async () => {
  const order: string[] = [];
  const phases = [memoryPhase("a", "parallel", {}, order), memoryPhase("b", "serial", {}, order)];
  const outcomes = await runPhases(phases, ctx, { concurrency: 4 }, silent);
  for (const o of outcomes) {
    for (const h of o.hosts) {
      expect(h.start).toBeGreaterThanOrEqual(o.start);
      expect(h.checkMs).toBeLessThanOrEqual(h.ms);
    }
  }
  expect(outcomes[1]!.start).toBeGreaterThanOrEqual(outcomes[0]!.start + outcomes[0]!.ms);
  const t = buildTimeline(outcomes);
  expect(t.phases.map((p) => [p.name, p.hosts.length])).toEqual([["a", 4], ["b", 4]]);
  expect(t.phases.every((p) => p.slowest !== undefined)).toBe(true);
  expect(t.criticalPath.map((c) => c.phase).sort()).toEqual(["a", "b"]);
});

test("the timeline: start offsets, check and run apart, the time between phases, the critical path longest first", () => {
  const t0 = Date.parse("2026-12-01T04:00:00Z");
  const host = (name: string, start: number, checkMs: number, ms: number, status: HostStatus = "done") => ({ host: name, status, start: t0 + start, checkMs, ms });
  const outcomes: PhaseOutcome[] = [
    { name: "packages", title: "packages", start: t0, ms: 40_000, hosts: [host("master1", 10, 1_000, 30_000), host("node1", 20, 2_000, 39_900)] },
    { name: "etcd", title: "etcd", start: t0 + 41_000, ms: 5_000, hosts: [host("master1", 41_000, 500, 500, "nothing to do"), host("master2", 41_000, 400, 5_000)] },
    { name: "join", title: "join", start: t0 + 46_500, ms: 3_000, hosts: [host("master2", 46_500, 100, 3_000), host("master3", 49_500, 0, 0, "not reached")] },
  ];
  const t = buildTimeline(outcomes);
  expect(t.started).toBe("2026-12-01T04:00:00.000Z");
  expect(t.totalMs).toBe(49_500);
  expect(t.phases.map((p) => p.afterMs)).toEqual([1_000, 500, 0]);
  expect(t.phases[0]!.slowest).toEqual({ host: "node1", ms: 39_900 });
  expect(t.phases[0]!.hosts[1]).toEqual({ host: "node1", status: "done", startMs: 20, checkMs: 2_000, runMs: 37_900, ms: 39_900 });
  expect(t.phases[1]!.hosts[0]!.runMs).toBe(0);
  expect(t.phases[2]!.slowest).toEqual({ host: "master2", ms: 3_000 });
  expect(t.criticalPath.map((c) => [c.phase, c.host])).toEqual([["packages", "node1"], ["etcd", "master2"], ["join", "master2"]]);
  const table = timelineTable(t);
  expect(table).toContain("timeline of 3 phase(s), 49.5 s");
  expect(table).toMatch(/packages\s+0\.0\s+40\.0\s+node1 39\.9\s+2\.0\s+37\.9\s+2: 30\.0 \/ 30\.0 \/ 39\.9/);
  expect(table).toContain("between phases (recording each phase, replicating the state): 1.5 s");
  expect(table).toContain("critical path: packages on node1 40.0 s (81%), etcd on master2 5.0 s (10%), join on master2 3.0 s (6%)");
});

test("a phase of steps asks each step's check once per run: run uses what check found", async () => {
  const asked: string[] = [];
  const ran: string[] = [];
  const step = (name: string, todoFirst: boolean): Step => ({
    name,
    check: async (_h, _c, n) => {
      asked.push(`${name}/${n.name}`);
      return todoFirst ? todo("missing") : NOTHING;
    },
    run: async (_h, _c, n) => void ran.push(`${name}/${n.name}`),
  });
  const phase = stepsPhase({ name: "s", title: "steps", hosts: (c) => c.hosts.slice(0, 2), steps: [step("one", true), step("two", false)] });
  const withHost = { ...ctx, host: async () => ({}) } as unknown as PhaseContext;
  await runPhases([phase], withHost, { concurrency: 4 }, silent);
  expect(asked.sort()).toEqual(["one/master1", "one/master2", "two/master1", "two/master2"]);
  expect(ran.sort()).toEqual(["one/master1", "one/master2"]);
  // A second run checks afresh (nothing is kept from the first).
  await runPhases([phase], withHost, { concurrency: 4 }, silent);
  expect(asked.length).toBe(8);
});

test("a phase that did nothing anywhere keeps its record: state.json is not rewritten (nor replicated) on a re-run", async () => {
  const files = new Map<string, string>();
  let writes = 0;
  const local = {
    readFile: async (p: string) => (files.has(p) ? new TextEncoder().encode(files.get(p)!) : null),
    writeFile: async (p: string, c: string) => {
      writes++;
      files.set(p, c);
      return true;
    },
    exec: async () => ({ code: 0, stdout: "", stderr: "" }),
  };
  const c = { ...ctx, stateDir: "/state", local } as unknown as PhaseContext;
  const outcome = (status: HostStatus): PhaseOutcome => ({ name: "os", title: "os", start: 0, ms: 5, hosts: [{ host: "master1", status, start: 0, checkMs: 1, ms: 5 }] });
  await recordPhaseDone(c, outcome("done"));
  const first = files.get("/state/state.json");
  expect(JSON.parse(first!).phases.os.hosts).toEqual({ master1: "done" });
  await recordPhaseDone(c, outcome("nothing to do"));
  expect(writes).toBe(1);
  expect(files.get("/state/state.json")).toBe(first);
  // Work done again is recorded again; a phase never recorded is recorded even when it had nothing to do.
  await recordPhaseDone(c, outcome("done"));
  await recordPhaseDone(c, { ...outcome("nothing to do"), name: "time" });
  expect(writes).toBe(3);
  expect(Object.keys(JSON.parse(files.get("/state/state.json")!).phases)).toEqual(["os", "time"]);
});
