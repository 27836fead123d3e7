import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mapLimit, sha256File } from "../../src/util/hash.ts";

describe("mapLimit", () => {
  test("keeps order and never runs more than the limit at once", async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
      inFlight++;
      most = Math.max(most, inFlight);
      for (let i = 0; i < n; i++) await Promise.resolve();
      inFlight--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0, 60]);
    expect(most).toBe(3);
  });

  test("starts nothing new after a failure and rejects with it", async () => {
    const started: number[] = [];
    const run = mapLimit([0, 1, 2, 3, 4, 5, 6, 7], 2, async (n) => {
      started.push(n);
      await Promise.resolve();
      if (n === 1) throw new Error("item 1 broke");
      return n;
    });
    await expect(run).rejects.toThrow("item 1 broke");
    expect(started.length).toBeLessThan(8);
  });

  test("rejects only once the items already in flight have ended", async () => {
    let ended = false;
    const run = mapLimit([0, 1], 2, async (n) => {
      if (n === 0) throw new Error("item 0 broke");
      await Bun.sleep(50);
      ended = true;
    });
    await expect(run).rejects.toThrow("item 0 broke");
    expect(ended).toBe(true);
  });
});

test("sha256File streams a file larger than its chunk size to the same sum as hashing it whole", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bundle-hash-"));
  try {
    const data = randomBytes((3 << 20) + 17);
    writeFileSync(join(dir, "f"), data);
    expect(await sha256File(join(dir, "f"))).toEqual({ size: data.length, sha256: createHash("sha256").update(data).digest("hex") });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
