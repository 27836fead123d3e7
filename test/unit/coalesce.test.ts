// The coalescer behind Host.readFile and writeFile's comparison (src/hosts/coalesce.ts): keys asked in
// one event-loop turn become one batch, a key alone goes on its own, what the batch leaves is asked alone.
import { describe, expect, test } from "bun:test";
import { coalescer } from "../../src/hosts/coalesce.ts";

function recorder(answer: (k: string) => string | undefined = (k) => k.toUpperCase()) {
  const batches: string[][] = [];
  const singles: string[] = [];
  const get = coalescer<string>(
    async (keys) => {
      batches.push(keys);
      return keys.map(answer);
    },
    async (key) => {
      singles.push(key);
      if (key === "bad") throw new Error(`cannot read ${key}`);
      return `one:${key}`;
    },
    3,
  );
  return { get, batches, singles };
}

describe("coalescer", () => {
  test("keys asked in one turn go as one batch (at most `max` a batch), in order; a repeated key is asked once", async () => {
    const r = recorder();
    const got = await Promise.all(["a", "b", "a", "c", "d"].map((k) => r.get(k)));
    expect(got).toEqual(["A", "B", "A", "C", "one:d"]);
    expect(r.batches).toEqual([["a", "b", "c"]]);
    expect(r.singles).toEqual(["d"]); // the rest of the turn: one key, asked on its own
  });

  test("one key alone is asked on its own; keys of later turns are later batches", async () => {
    const r = recorder();
    expect(await r.get("x")).toBe("one:x");
    expect(await Promise.all([r.get("p"), r.get("q")])).toEqual(["P", "Q"]);
    expect(r.singles).toEqual(["x"]);
    expect(r.batches).toEqual([["p", "q"]]);
  });

  test("a key the batch leaves unanswered is asked alone, and its error reaches only its callers", async () => {
    const r = recorder((k) => (k === "bad" || k === "left" ? undefined : k.toUpperCase()));
    const settled = await Promise.allSettled([r.get("ok"), r.get("bad"), r.get("left")]);
    expect(settled.map((s) => (s.status === "fulfilled" ? s.value : `error: ${(s.reason as Error).message}`))).toEqual(["OK", "error: cannot read bad", "one:left"]);
    expect(r.singles.sort()).toEqual(["bad", "left"]);
  });

  test("a batch that fails (a lost connection) fails every key in it", async () => {
    const get = coalescer<string>(
      async () => {
        throw new Error("connection lost");
      },
      async (k) => k,
    );
    const settled = await Promise.allSettled([get("a"), get("b")]);
    expect(settled.map((s) => s.status === "rejected" && (s.reason as Error).message)).toEqual(["connection lost", "connection lost"]);
  });
});
