// Issue 9's bad-input drills, without a lab: hundreds of broken configs and every kind of broken
// bundle go through the real command entry point. Each must be refused (exit 2 for a config, 1 for
// a bundle) with a message naming the place, never a crash, and before any node is contacted.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync, symlinkSync, unlinkSync, cpSync, truncateSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { configMutations } from "./fixtures/config/mutations.ts";
import { loadConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/config/errors.ts";
import { runCliInProcess } from "./support/run-cli.ts";
import { recordDrill, drillTable } from "../drills/report.ts";
import { renderInitConfig } from "../../src/config/init.ts";

const STACK = /^\s+at .+[:(]\d+/m;
const work = mkdtempSync(join(tmpdir(), "drills-"));
const table: [string, number, number, number][] = [];

describe("broken configs", () => {
  test("every mutation that does not load is refused with exit 2, a place, and no stack trace", async () => {
    const mutations = configMutations(20261125, 300);
    let passed = 0;
    let loaded = 0;
    const failures: string[] = [];
    for (const [i, m] of mutations.entries()) {
      const file = join(work, `m${i}.yaml`);
      writeFileSync(file, m.text);
      let loads = false;
      try {
        loadConfig(file);
        loads = true;
      } catch (e) {
        if (!(e instanceof ConfigError)) failures.push(`${m.name}: loader threw ${(e as Error).name}`);
      }
      if (loads) {
        loaded++;
        continue;
      }
      // --dry-run so that nothing could be contacted even if the CLI disagreed with the loader.
      const r = await runCliInProcess(["install", "--dry-run", "-c", file]);
      // The place: file:line:column, or the file itself for whole-file problems (size, encoding).
      const ok = r.code === 2 && (/:\d+(:\d+)? /.test(r.err) || r.err.startsWith(`${file}: `)) && !STACK.test(r.err);
      if (ok) passed++;
      else failures.push(`${m.name}: exit ${r.code}: ${r.err.slice(0, 200)}`);
    }
    table.push(["bad config (mutations)", mutations.length - loaded, passed, failures.length]);
    expect(failures).toEqual([]);
    expect(passed).toBeGreaterThanOrEqual(200);
  }, 300_000);
});

describe("broken bundles are refused before any node is touched", () => {
  const files: Record<string, string> = { "files/etcd-v3.4.23-linux-amd64.tar.gz": "etcd payload ".repeat(1000), "repo/debian12/Packages": "Package: x\n" };
  const good = join(work, "bundle-good");
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(good, p, ".."), { recursive: true });
    writeFileSync(join(good, p), c);
  }
  const lock = {
    profile: "debian12",
    kubernetesVersion: "1.22.2",
    created: new Date().toISOString(),
    files: Object.entries(files).map(([path, c]) => ({ path, size: Buffer.byteLength(c), sha256: createHash("sha256").update(c).digest("hex"), kind: "file" })),
    images: [],
  };
  const stateDir = join(work, "state");
  // A valid config whose master1 is this machine (127.0.0.1) and whose other nodes do not exist:
  // had any phase started, it would have had to contact them.
  const cfg = join(work, "cluster.yaml");
  writeFileSync(
    cfg,
    renderInitConfig()
      .replace("192.168.217.19", "127.0.0.1").replace("192.168.217.20", "127.0.0.2").replace("192.168.217.21", "127.0.0.3").replace("192.168.217.22", "127.0.0.4")
      .replace("vip: 192.168.217.100/24", "vip: 192.168.217.100") // the nodes moved to loopback: no subnet to hold them to
      .replace(/^  keyFile: .*\n/m, "") // no key file on this machine: the agent or a password would be used
      .replace("profile: el7-k8s1.22", "profile: debian12")
      .replace("stateDir: /var/lib/k8s-ha-offline", `stateDir: ${stateDir}`),
  );
  const faults: [string, (dir: string) => void, RegExp][] = [
    ["missing file", (d) => unlinkSync(join(d, "repo/debian12/Packages")), /repo\/debian12\/Packages: missing/],
    ["truncated file", (d) => truncateSync(join(d, "files/etcd-v3.4.23-linux-amd64.tar.gz"), 100), /etcd-v3\.4\.23-linux-amd64\.tar\.gz: size/],
    ["flipped byte", (d) => {
      const p = join(d, "files/etcd-v3.4.23-linux-amd64.tar.gz");
      const b = readFileSync(p);
      b[500] ^= 0xff;
      writeFileSync(p, b);
    }, /etcd-v3\.4\.23-linux-amd64\.tar\.gz: sha256/],
    ["extra file", (d) => writeFileSync(join(d, "files/surprise.bin"), "x"), /files\/surprise\.bin: extra/],
    ["symlink out of the bundle", (d) => {
      const p = join(d, "repo/debian12/Packages");
      unlinkSync(p);
      symlinkSync("/etc/passwd", p);
    }, /repo\/debian12\/Packages: symlink/],
    ["no bundle at all", (d) => rmSync(d, { recursive: true }), /does not exist/],
  ];
  let passed = 0;
  for (const [name, fault, expected] of faults) {
    test(name, async () => {
      const dir = join(work, `bundle-${name.replace(/\W+/g, "-")}`);
      cpSync(good, dir, { recursive: true });
      fault(dir);
      process.env.K8S_HA_EMBEDDED_LOCK = JSON.stringify(lock);
      try {
        const r = await runCliInProcess(["install", "--yes", "-c", cfg, "--bundle", dir]);
        expect(r.code).toBe(1);
        expect(r.err).toMatch(expected);
        expect(r.err).toContain("no node was changed");
        expect(r.err).not.toContain("==> preflight");
        expect(existsSync(join(stateDir, "state.json"))).toBe(false);
        passed++;
      } finally {
        delete process.env.K8S_HA_EMBEDDED_LOCK;
      }
    });
  }
  afterAll(() => table.push(["bad bundle", faults.length, passed, faults.length - passed]));
});

afterAll(() => {
  const rows = table.map(([drill, cases, passed, failed]) => ({ drill, cases, passed, failed }));
  for (const r of rows) recordDrill(r);
  process.stderr.write(`\n${drillTable(rows)}\n`);
  rmSync(work, { recursive: true, force: true });
});
