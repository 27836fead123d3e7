import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { buildLock } from "../../src/bundle/lock-build.ts";
import { BundleError, embeddedLock, parseLock, readLock, serializeLock, writeLock, type BundleLock } from "../../src/depot/lock.ts";
import { describeProblem, verifyBundle } from "../../src/depot/verify.ts";

let dir: string;
let outside: string;
let lock: BundleLock;

const FILES = {
  "repo/debian12/haproxy_2.6.12-1_amd64.deb": randomBytes(70_000),
  "repo/debian12/Packages": Buffer.from("Package: haproxy\n"),
  "files/etcd-v3.4.23-linux-amd64.tar.gz": randomBytes(3 << 20),
  "images/pause-3.5.tar": randomBytes(5000),
};

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "verify-bundle-"));
  outside = mkdtempSync(join(tmpdir(), "verify-outside-"));
  for (const [p, data] of Object.entries(FILES)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), data);
  }
  lock = await buildLock(dir, {
    profile: "debian12",
    kubernetesVersion: "1.22.2",
    images: [{ ref: "registry.k8s.io/pause:3.5", digest: `sha256:${"a".repeat(64)}`, file: "images/pause-3.5.tar" }],
  });
  writeLock(dir, lock);
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe("verifyBundle", () => {
  test("an intact bundle passes and every file was hashed", async () => {
    const r = await verifyBundle(dir, readLock(dir), { concurrency: 3 });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.checked).toBe(4);
    expect(lock.files.map((f) => f.kind).sort()).toEqual(["deb", "file", "file", "image"]);
  });

  test("a passed verification is remembered: trusted while no file changed, hashed again after any write (even with its mtime put back)", async () => {
    const stampFile = join(outside, "state", "bundle.verified");
    const first = await verifyBundle(dir, readLock(dir), { stampFile });
    expect(first).toMatchObject({ ok: true, fromStamp: false });
    expect(readFileSync(stampFile, "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
    const stamp = readFileSync(stampFile, "utf8");
    expect(await verifyBundle(dir, readLock(dir), { stampFile })).toMatchObject({ ok: true, fromStamp: true });
    expect(readFileSync(stampFile, "utf8")).toBe(stamp);
    // A byte flipped in place, its times put back: the ctime moved, the stamp no longer holds.
    const p = join(dir, "files/etcd-v3.4.23-linux-amd64.tar.gz");
    const st = statSync(p);
    const data = readFileSync(p);
    data[100] = data[100]! ^ 0xff;
    writeFileSync(p, data);
    utimesSync(p, st.atime, st.mtime);
    const after = await verifyBundle(dir, readLock(dir), { stampFile });
    expect(after).toMatchObject({ ok: false, fromStamp: false });
    expect(after.problems.map((x) => `${x.path} ${x.problem}`)).toEqual(["files/etcd-v3.4.23-linux-amd64.tar.gz sha256"]);
    // A failed verification never writes the stamp, and another lock never matches it.
    expect(readFileSync(stampFile, "utf8")).toBe(stamp);
  });

  test("a stamp of another lock or a garbled stamp is not trusted", async () => {
    const stampFile = join(outside, "bundle.verified");
    expect((await verifyBundle(dir, readLock(dir), { stampFile })).ok).toBe(true);
    const other = { ...readLock(dir), files: readLock(dir).files.map((f, i) => (i === 0 ? { ...f, sha256: "0".repeat(64) } : f)) };
    const r = await verifyBundle(dir, other, { stampFile });
    expect(r.ok).toBe(false);
    expect(r.problems.map((x) => x.problem)).toEqual(["sha256"]);
    writeFileSync(stampFile, "garbage\n");
    expect(await verifyBundle(dir, readLock(dir), { stampFile })).toMatchObject({ ok: true, fromStamp: false, checked: 4 });
  });

  test("a flipped byte is caught by name as a sha256 mismatch", async () => {
    const p = join(dir, "files/etcd-v3.4.23-linux-amd64.tar.gz");
    const data = readFileSync(p);
    data[1_234_567] = data[1_234_567]! ^ 0x01;
    writeFileSync(p, data);
    const r = await verifyBundle(dir, lock);
    expect(r.ok).toBe(false);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.path).toBe("files/etcd-v3.4.23-linux-amd64.tar.gz");
    expect(r.problems[0]!.problem).toBe("sha256");
    expect(r.problems[0]!.expected).toBe(lock.files.find((f) => f.path.startsWith("files/"))!.sha256);
    expect(describeProblem(r.problems[0]!)).toContain("corrupt");
  });

  test("a truncated file, a missing file and an extra file are each named", async () => {
    truncateSync(join(dir, "repo/debian12/haproxy_2.6.12-1_amd64.deb"), 1000);
    unlinkSync(join(dir, "images/pause-3.5.tar"));
    writeFileSync(join(dir, "files/stray.txt"), "x");
    const r = await verifyBundle(dir, lock);
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => [p.path, p.problem])).toEqual([
      ["files/stray.txt", "extra"],
      ["images/pause-3.5.tar", "missing"],
      ["repo/debian12/haproxy_2.6.12-1_amd64.deb", "size"],
    ]);
    expect(r.problems[2]!.actual).toBe("1000");
  });

  test("a payload replaced by a symlink leading out of the bundle is refused even with the right bytes", async () => {
    const p = "repo/debian12/Packages";
    writeFileSync(join(outside, "Packages"), FILES[p]);
    unlinkSync(join(dir, p));
    symlinkSync(join(outside, "Packages"), join(dir, p));
    symlinkSync("/etc", join(dir, "files/etc"));
    const r = await verifyBundle(dir, lock);
    expect(r.problems.map((x) => [x.path, x.problem])).toEqual([
      ["files/etc", "symlink"],
      [p, "symlink"],
    ]);
  });

  test("a symlink that stays inside the bundle is checked by its content", async () => {
    const p = "repo/debian12/Packages";
    writeFileSync(join(dir, "files/packages.copy"), FILES[p]);
    unlinkSync(join(dir, p));
    symlinkSync("../../files/packages.copy", join(dir, p));
    const r = await verifyBundle(dir, lock);
    expect(r.problems.map((x) => [x.path, x.problem])).toEqual([["files/packages.copy", "extra"]]);
    appendFileSync(join(dir, "files/packages.copy"), "more");
    const r2 = await verifyBundle(dir, lock);
    expect(r2.problems.map((x) => [x.path, x.problem])).toContainEqual([p, "size"]);
  });
});

describe("lock", () => {
  test("round-trips through lock.json", () => {
    expect(readLock(dir)).toEqual(lock);
  });

  test("a path leaving the bundle is rejected", () => {
    const evil = { ...lock, files: [{ ...lock.files[0]!, path: "../../etc/passwd" }] , images: [] };
    expect(() => parseLock(serializeLock(evil), "x/lock.json")).toThrow(/not a relative path inside the bundle/);
    const abs = { ...lock, files: [{ ...lock.files[0]!, path: "/etc/passwd" }], images: [] };
    expect(() => parseLock(serializeLock(abs), "x/lock.json")).toThrow(BundleError);
  });

  test("a bad digest, a bad kind and an image pointing at no file are rejected", () => {
    const bad = (mut: (l: BundleLock) => void) => {
      const l = structuredClone(lock);
      mut(l);
      return () => parseLock(JSON.stringify(l), "lock.json");
    };
    expect(bad((l) => (l.files[0]!.sha256 = "abc"))).toThrow(/sha256/);
    expect(bad((l) => ((l.files[0] as { kind: string }).kind = "zip"))).toThrow(/kind/);
    expect(bad((l) => (l.images[0]!.file = "images/none.tar"))).toThrow(/images\[0\]\.file/);
    expect(() => parseLock("{", "lock.json")).toThrow(/not valid JSON/);
  });

  test("a directory without lock.json says it is not a bundle", () => {
    expect(() => readLock(outside)).toThrow(/no lock.json in .*not an assembled bundle/);
  });

  test("embeddedLock is null without one and parses the compile-time text", () => {
    const saved = process.env.K8S_HA_EMBEDDED_LOCK;
    try {
      delete process.env.K8S_HA_EMBEDDED_LOCK;
      expect(embeddedLock()).toBeNull();
      process.env.K8S_HA_EMBEDDED_LOCK = serializeLock(lock);
      expect(embeddedLock()).toEqual(lock);
    } finally {
      if (saved === undefined) delete process.env.K8S_HA_EMBEDDED_LOCK;
      else process.env.K8S_HA_EMBEDDED_LOCK = saved;
    }
  });
});
