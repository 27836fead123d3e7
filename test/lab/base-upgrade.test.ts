// The lab's update step (test/lab/lib/base.sh: base_install_debs) must install a set of updates in
// dependency order, whatever Debian publishes: here a set built on the spot with dpkg-deb where the
// new A pre-depends on the new B (the shape of the libpam update that broke `dpkg -i *.deb` on
// 2026-11-30) and the new C's postinst needs the new B configured. Old versions go into a scratch
// copy (overlay) of the lab's real base tree, then the update step runs with the new set.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { LAB_SCRIPT, run } from "./lab-client";

const MIN = 60_000;
const LIB = join(import.meta.dir, "lib");
const work = mkdtempSync("/var/tmp/k8s-lab-base-upgrade-");
const mounts: string[] = [];
let base = "";

type Deb = { name: string; version: string; control?: string; postinst?: string; files?: Record<string, string> };

/** A tiny real .deb, built with dpkg-deb. */
function buildDeb(dir: string, d: Deb): void {
  const root = join(work, "src", `${d.name}_${d.version}`);
  mkdirSync(join(root, "DEBIAN"), { recursive: true });
  writeFileSync(
    join(root, "DEBIAN/control"),
    `Package: ${d.name}\nVersion: ${d.version}\nArchitecture: all\nMaintainer: lab <lab@localhost>\nDescription: lab ordering test\n${d.control ?? ""}`,
  );
  if (d.postinst) {
    writeFileSync(join(root, "DEBIAN/postinst"), `#!/bin/sh\nset -e\n${d.postinst}\n`);
    chmodSync(join(root, "DEBIAN/postinst"), 0o755);
  }
  for (const [path, text] of Object.entries(d.files ?? {})) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  const p = Bun.spawnSync(["dpkg-deb", "--root-owner-group", "--build", root, join(dir, `${d.name}_${d.version}_all.deb`)]);
  if (p.exitCode !== 0) throw new Error(`dpkg-deb: ${p.stderr}`);
}

const OLD: Deb[] = [
  { name: "k8slab-a", version: "1" },
  { name: "k8slab-b", version: "1", files: { "usr/share/k8slab-b/version": "1\n" } },
  { name: "k8slab-c", version: "1" },
];
const NEW: Deb[] = [
  // File-name order puts A before B: dpkg -i unpacks A while B 1 is configured, and refuses.
  { name: "k8slab-a", version: "2", control: "Pre-Depends: k8slab-b (>= 2)\n" },
  { name: "k8slab-b", version: "2", files: { "usr/share/k8slab-b/version": "2\n" } },
  {
    name: "k8slab-c",
    version: "2",
    control: "Depends: k8slab-b (>= 2)\n",
    // Needs B 2 unpacked AND configured when it runs.
    postinst: `[ "$(cat /usr/share/k8slab-b/version)" = 2 ]\n[ "$(dpkg-query -W -f='\${Status} \${Version}' k8slab-b)" = "install ok installed 2" ]`,
  },
];

/** A scratch root: an overlay over the lab's base, so the real cache is never touched. */
function scratchRoot(name: string): string {
  const dir = join(work, name);
  for (const d of ["upper", "work", "root"]) mkdirSync(join(dir, d), { recursive: true });
  const m = Bun.spawnSync(["mount", "-t", "overlay", "overlay", "-o", `lowerdir=${base},upperdir=${dir}/upper,workdir=${dir}/work`, `${dir}/root`]);
  if (m.exitCode !== 0) throw new Error(`mount overlay: ${m.stderr}`);
  mounts.push(`${dir}/root`);
  return `${dir}/root`;
}

function putDebs(root: string, into: string, debs: Deb[]): string {
  const dir = join(root, into);
  mkdirSync(dir, { recursive: true });
  for (const d of debs) buildDeb(dir, d);
  return into;
}

/** The lab's own update step, exactly as the base build calls it. */
const installStep = (root: string, dir: string, machine: string) =>
  run([
    "bash",
    "-c",
    `set -Eeuo pipefail; for l in common base net nodes files; do source ${LIB}/$l.sh; done; base_install_debs "$@"`,
    "_",
    root,
    dir,
    machine,
  ], { timeoutMs: 5 * MIN });

const versions = async (root: string) =>
  (await run(["chroot", root, "dpkg-query", "-W", "-f", "${Package}=${Version}:${Status}\\n", "k8slab-a", "k8slab-b", "k8slab-c"])).stdout
    .trim()
    .split("\n")
    .sort();

beforeAll(async () => {
  const b = await run([LAB_SCRIPT, "base"], { timeoutMs: 15 * MIN });
  if (b.code !== 0) throw new Error(`lab base: ${b.stderr}`);
  base = b.stdout.trim().split("\n").pop()!;
}, 16 * MIN);

afterAll(async () => {
  for (const m of mounts.reverse()) Bun.spawnSync(["umount", m]);
  for (const machine of ["k8s-lab-order-test", "k8s-lab-order-naive"]) rmSync(`/run/systemd/nspawn/propagate/${machine}`, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe("the base's update step installs in dependency order", () => {
  test("a Pre-Depends inside the set and a postinst needing a configured dependency: all at the new versions", async () => {
    const root = scratchRoot("ordered");
    const old = await installStep(root, putDebs(root, "/var/tmp/old", OLD), "k8s-lab-order-test");
    expect({ code: old.code, out: old.code ? old.stdout + old.stderr : "" }).toEqual({ code: 0, out: "" });
    expect(await versions(root)).toEqual(["k8slab-a=1:install ok installed", "k8slab-b=1:install ok installed", "k8slab-c=1:install ok installed"]);

    const upd = await installStep(root, putDebs(root, "/var/tmp/new", NEW), "k8s-lab-order-test");
    expect({ code: upd.code, err: upd.code ? upd.stdout + upd.stderr : "" }).toEqual({ code: 0, err: "" });
    expect(await versions(root)).toEqual(["k8slab-a=2:install ok installed", "k8slab-b=2:install ok installed", "k8slab-c=2:install ok installed"]);
    expect((await run(["chroot", root, "dpkg", "--audit"])).stdout.trim()).toBe("");
  }, 10 * MIN);

  test("the same set is a real trap: `dpkg -i *.deb` (the old step) fails on it", async () => {
    const root = scratchRoot("naive");
    expect((await installStep(root, putDebs(root, "/var/tmp/old", OLD), "k8s-lab-order-naive")).code).toBe(0);
    const dir = putDebs(root, "/var/tmp/new", NEW);
    const naive = await run(["chroot", root, "sh", "-c", `dpkg -i --force-confold ${dir}/*.deb`]);
    expect(naive.code).not.toBe(0);
    expect(naive.stdout + naive.stderr).toMatch(/k8slab-a pre-depends on k8slab-b \(>= 2\)/);
    expect(await versions(root)).toContain("k8slab-a=1:install ok installed");
  }, 10 * MIN);

  test("a set that cannot be installed fails naming the package and the reason", async () => {
    const root = scratchRoot("broken");
    const dir = putDebs(root, "/var/tmp/broken", [{ name: "k8slab-d", version: "1", control: "Depends: k8slab-missing (>= 9)\n" }]);
    const r = await installStep(root, dir, "k8s-lab-order-test");
    expect(r.code).not.toBe(0);
    const log = join(work, "broken.log");
    writeFileSync(log, r.stdout + r.stderr);
    const summary = await run(["bash", "-c", `for l in common base; do source ${LIB}/$l.sh; done; base_install_failure "$1"`, "_", log]);
    expect(summary.stdout).toMatch(/k8slab-d : Depends: k8slab-missing \(>= 9\)/);
  }, 10 * MIN);
});
