// fanOut: bounded concurrency, a result per item in input order, per-item deadlines.
import { test, expect } from "bun:test";
import { fanOut, valuesOrThrow, FanOutError, TimeoutError, type FanOutEvent } from "../../src/hosts/fanout.ts";
import { HostError } from "../../src/hosts/host.ts";

/** A task that finishes only when released, so the test decides the interleaving (no timing). */
function gate() {
  let release!: () => void;
  const opened = new Promise<void>((r) => (release = r));
  return { opened, release };
}

test("never runs more than `limit` at once, and runs everything", async () => {
  let running = 0;
  let peak = 0;
  const items = Array.from({ length: 20 }, (_, i) => i);
  const results = await fanOut(
    items,
    3,
    async (i) => {
      running++;
      peak = Math.max(peak, running);
      await Bun.sleep(1 + (i % 4));
      running--;
      return i * 2;
    },
    { timeoutMs: 60_000 },
  );
  expect(peak).toBe(3);
  expect(results.map((r) => r.ok && r.value)).toEqual(items.map((i) => i * 2));
});

test("a failing item does not hide the others' results, in input order", async () => {
  const results = await fanOut(
    ["master1", "master2", "master3"],
    2,
    async (name) => {
      if (name === "master2") throw new HostError(name, "command failed (exit 1): systemctl start etcd");
      return `${name} ok`;
    },
    { timeoutMs: 60_000 },
  );
  expect(results.map((r) => [r.item, r.ok])).toEqual([
    ["master1", true],
    ["master2", false],
    ["master3", true],
  ]);
  const failed = results[1]!;
  expect(!failed.ok && failed.error.message).toBe("master2: command failed (exit 1): systemctl start etcd");
  const err = (() => {
    try {
      valuesOrThrow(results, (n) => n);
    } catch (e) {
      return e as FanOutError<string>;
    }
  })();
  expect(err).toBeInstanceOf(FanOutError);
  expect(err!.message).toBe("master2: command failed (exit 1): systemctl start etcd");
});

test("a hanging item times out on its own: its signal aborts, the others still finish", async () => {
  const hang = gate();
  let abortedWith: unknown;
  const results = await fanOut(
    ["stuck", "fine"],
    2,
    (name, signal) => {
      if (name === "fine") return Promise.resolve("done");
      signal.addEventListener("abort", () => {
        abortedWith = signal.reason;
        hang.release();
      });
      return hang.opened.then(() => new Promise<string>(() => {}));
    },
    { timeoutMs: 200 },
  );
  expect(results[1]).toMatchObject({ item: "fine", ok: true, value: "done" });
  expect(results[0]!.ok).toBe(false);
  const error = (results[0] as { error: Error }).error;
  expect(error).toBeInstanceOf(TimeoutError);
  expect(error.message).toBe("timed out after 0.2s");
  expect(abortedWith).toBe(error);
});

test("a synchronous throw is a failed result, not a crash", async () => {
  const results = await fanOut([1], 1, () => {
    throw new Error("boom");
  }, { timeoutMs: 1000 });
  expect(results[0]).toMatchObject({ ok: false });
});

test("progress: started and finished events with counts", async () => {
  const events: FanOutEvent<string>[] = [];
  await fanOut(["a", "b"], 1, async (x) => {
    if (x === "b") throw new Error("no");
  }, { timeoutMs: 1000, onProgress: (e) => events.push(e) });
  expect(events.map((e) => [e.item, e.state, e.finished, e.total])).toEqual([
    ["a", "started", 0, 2],
    ["a", "done", 1, 2],
    ["b", "started", 1, 2],
    ["b", "failed", 2, 2],
  ]);
  expect(events[3]!.error?.message).toBe("no");
});

test("a limit that is not a whole number >= 1 is refused", async () => {
  await expect(fanOut([1], 0, async () => 1, { timeoutMs: 1 })).rejects.toThrow("concurrency limit must be a whole number >= 1, got 0");
});
