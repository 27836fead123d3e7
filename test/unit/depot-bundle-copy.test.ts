// The depot's copy of the bundle on every master (src/depot/bundle-copy.ts), with real files and real
// commands on this machine (LocalHost, as root): master1's copy linked from the operator's bundle, another
// master's sent file by file through Host.upload, only what is missing or differs, nothing at all when
// the copy is intact, and a damaged source never vouched for.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { LocalHost } from "../../src/hosts/local.ts";
import { bytesSha256 } from "../../src/hosts/sha256.ts";
import type { ShellCommand } from "../../src/util/sh.ts";
import type { BundleLock } from "../../src/depot/lock.ts";
import { inspectBundleCopy, stampPath, syncBundleCopy } from "../../src/depot/bundle-copy.ts";
import { verifyBundle } from "../../src/depot/verify.ts";

let work: string;
let src: string;
let lock: BundleLock;

const FILES: Record<string, Buffer> = {
  "files/etcd-v3.5.0-linux-amd64.tar.gz": randomBytes(300 * 1024),
  "files/runc.amd64": randomBytes(40 * 1024),
  "repo/debian12/conntrack_1.4.7-1_amd64.deb": randomBytes(20 * 1024),
  "repo/debian12/InRelease": Buffer.from("not signed here\n"),
  "images/pause-3.5.tar": randomBytes(64 * 1024),
};

/** A LocalHost that counts uploads and hashing runs, so "transferred nothing" and "hashed nothing" can be seen. */
class CountingHost extends LocalHost {
  uploads: string[] = [];
  hashed = 0;
  override async upload(localPath: string, remotePath: string, opts?: Parameters<LocalHost["upload"]>[2]): Promise<void> {
    this.uploads.push(remotePath);
    return super.upload(localPath, remotePath, opts);
  }
  override exec(cmd: ShellCommand, opts?: Parameters<LocalHost["exec"]>[1]) {
    if (cmd.text.includes("sha256sum")) this.hashed++;
    return super.exec(cmd, opts);
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "depot-copy-"));
  src = join(work, "operator-bundle");
  for (const [p, data] of Object.entries(FILES)) {
    mkdirSync(dirname(join(src, p)), { recursive: true });
    writeFileSync(join(src, p), data);
  }
  lock = {
    profile: "debian12",
    kubernetesVersion: "1.22.2",
    created: "2021-09-15T00:00:00Z",
    files: Object.entries(FILES).map(([path, data]) => ({ path, size: data.length, sha256: bytesSha256(data), kind: "file" as const })),
    images: [],
  };
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

test("master1: the copy is linked from the operator's bundle (same filesystem), root's, verified, stamped; a re-run moves and hashes nothing", async () => {
  const dir = join(work, "master1/depot/bundle");
  const host = new CountingHost({ name: "master1" });
  const first = await syncBundleCopy(host, lock, { kind: "local", dir: src }, { dir });
  expect(first.transferred.map((f) => f.path).sort()).toEqual(Object.keys(FILES).sort());
  for (const p of Object.keys(FILES)) {
    expect(statSync(join(dir, p)).ino).toBe(statSync(join(src, p)).ino); // a hard link, no second copy
    const st = statSync(join(dir, p));
    expect({ uid: st.uid, writableByOthers: (st.mode & 0o022) !== 0 }).toEqual({ uid: 0, writableByOthers: false });
  }
  expect((await verifyBundle(dir, lock)).ok).toBe(true);
  expect(JSON.parse(readFileSync(join(dir, "lock.json"), "utf8")).files).toHaveLength(lock.files.length);
  expect(existsSync(stampPath(dir))).toBe(true);

  const again = new CountingHost({ name: "master1" });
  const second = await syncBundleCopy(again, lock, { kind: "local", dir: src }, { dir });
  expect(second).toEqual({ transferred: [], removed: [], bytes: 0 });
  expect(again.hashed).toBe(0);
  expect(await inspectBundleCopy(again, lock, dir)).toEqual({ differing: [], extra: [], stamped: true });
});

test("another master: sent over Host.upload from master1, then only what differs; an extra file goes; intact means no transfer", async () => {
  const dir = join(work, "master2/depot/bundle");
  const host = new CountingHost({ name: "master2" });
  const progress: string[] = [];
  await syncBundleCopy(host, lock, { kind: "upload", dirs: [join(work, "absent"), src] }, { dir, progress: (l) => progress.push(l) });
  expect(host.uploads.sort()).toEqual(Object.keys(FILES).map((p) => join(dir, p)).sort());
  expect((await verifyBundle(dir, lock)).ok).toBe(true);

  // One file rotted (same size, other bytes), one missing, one the lock does not list.
  const rotten = "files/runc.amd64";
  writeFileSync(join(dir, rotten), randomBytes(FILES[rotten]!.length));
  rmSync(join(dir, "images/pause-3.5.tar"));
  writeFileSync(join(dir, "images/old-1.0.tar"), "an older bundle's image");
  const state = await inspectBundleCopy(host, lock, dir);
  expect({ differing: state.differing.map((f) => f.path).sort(), extra: state.extra, stamped: state.stamped }).toEqual({
    differing: ["files/runc.amd64", "images/pause-3.5.tar"],
    extra: ["images/old-1.0.tar"],
    stamped: false,
  });
  const fix = new CountingHost({ name: "master2" });
  const report = await syncBundleCopy(fix, lock, { kind: "upload", dirs: [src] }, { dir });
  expect(fix.uploads.sort()).toEqual([join(dir, "files/runc.amd64"), join(dir, "images/pause-3.5.tar")]);
  expect(report.removed).toEqual(["images/old-1.0.tar"]);
  expect((await verifyBundle(dir, lock)).ok).toBe(true);

  const idle = new CountingHost({ name: "master2" });
  expect((await syncBundleCopy(idle, lock, { kind: "upload", dirs: [src] }, { dir })).transferred).toEqual([]);
  expect({ uploads: idle.uploads, hashed: idle.hashed }).toEqual({ uploads: [], hashed: 0 });
});

test("a damaged operator bundle is refused by name and the copy is not stamped as verified", async () => {
  const bad = join(work, "bad-bundle");
  for (const [p, data] of Object.entries(FILES)) {
    mkdirSync(dirname(join(bad, p)), { recursive: true });
    writeFileSync(join(bad, p), p === "files/runc.amd64" ? randomBytes(data.length) : data);
  }
  const dir = join(work, "master1-bad/depot/bundle");
  const host = new LocalHost({ name: "master1" });
  await expect(syncBundleCopy(host, lock, { kind: "local", dir: bad }, { dir })).rejects.toThrow(
    /master1: the depot copy of files\/runc\.amd64 does not hash to the bundle lock's sha256; the bundle directory .* is damaged: run verify-bundle/,
  );
  expect(existsSync(stampPath(dir))).toBe(false);
  expect((await inspectBundleCopy(host, lock, dir)).differing.map((f) => f.path)).toEqual(["files/runc.amd64"]);
});

test("an upload source without the file says where it looked and what to do", async () => {
  const dir = join(work, "master3/depot/bundle");
  await expect(syncBundleCopy(new LocalHost({ name: "master3" }), lock, { kind: "upload", dirs: [join(work, "nowhere")] }, { dir })).rejects.toThrow(
    /not on this machine \(looked in .*nowhere\); cannot give master3 its depot copy; run the install from master1 with the bundle directory/,
  );
});
