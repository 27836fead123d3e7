// The command line as an operator meets it: help, init, dry-run, and every bad config refused with
// exit 2, the YAML path and line named, no stack trace. Runs the sources; the e2e suite runs the binary.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { badConfigFixtures } from "./fixtures/config/index.ts";
import { runCliInProcess as inProcess } from "./support/run-cli.ts";

const CLI = join(import.meta.dir, "../../src/cli.ts");
function cli(args: string[], cwd = tmpdir()) {
  const p = Bun.spawnSync([process.execPath, CLI, ...args], { cwd, env: { ...process.env, K8S_HA_EMBEDDED_LOCK: "" } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}
const STACK = /^\s+at .+[:(]\d+/m;

test("--help lists the commands", () => {
  const r = cli(["--help"]);
  expect(r.code).toBe(0);
  for (const c of ["install", "check-certs", "preflight", "init", "verify-bundle", "serve", "phases"]) expect(r.out).toContain(c);
  expect(r.out).toContain("Exit codes");
});

test("version names the embedded lock (profile, Kubernetes, files, images), or says there is none", () => {
  const lock = { profile: "debian12", kubernetesVersion: "1.22.2", created: "2026-12-02T00:00:00Z", files: [{ path: "a", size: 1, sha256: "0".repeat(64), kind: "file" }], images: [] };
  const run = (text: string) => Bun.spawnSync([process.execPath, CLI, "version"], { env: { ...process.env, K8S_HA_EMBEDDED_LOCK: text } });
  const withLock = run(JSON.stringify(lock));
  expect(withLock.exitCode).toBe(0);
  expect(withLock.stdout.toString()).toContain("embedded bundle lock: profile debian12, Kubernetes 1.22.2, 1 files, 0 images");
  expect(run("").stdout.toString()).toContain("embedded bundle lock: none (built without a bundle)");
});

test("every command has --help with its options", { timeout: 60_000 }, () => {
  for (const c of ["install", "init", "preflight", "check-certs"]) {
    const r = cli([c, "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`k8s-ha-offline ${c}`);
  }
});

test("the help texts made at build time are what cac prints from the command table at run time, for every command", { timeout: 60_000 }, async () => {
  // `<command> --help` is answered from help-texts.ts (a macro); with one more word (-v) the command table
  // is loaded and cac prints the help itself. Both must say the same.
  const { buildCli } = await import("../../src/cli/command-table.ts");
  const names = buildCli().commands.map((c) => c.name).filter(Boolean);
  expect(names.length).toBeGreaterThan(15);
  for (const words of [[], ...names.map((n) => [n])]) {
    const built = cli([...words, "--help"]);
    const fromCac = cli([...words, "--help", "-v"]);
    expect({ words, code: built.code, out: built.out }).toEqual({ words, code: 0, out: fromCac.out });
    expect(built.out).toContain(words.length ? `k8s-ha-offline ${words[0]}` : "Getting started");
  }
});

test("init then install --dry-run prints the plan, changes nothing, and lists every problem (exit 1)", { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "cli-"));
  expect(cli(["init"], dir).code).toBe(0);
  expect(readFileSync(join(dir, "cluster.yaml"), "utf8")).toContain("192.168.217.100/24");
  expect(cli(["init"], dir).code).toBe(2); // refuses to overwrite
  const r = cli(["install", "--dry-run"], dir);
  expect(r.out).toContain("nothing will be changed");
  for (const p of ["preflight", "etcd", "lb", "kubeadm-init", "control-plane-join", "worker-join", "cni"]) expect(r.out).toContain(p);
  // This binary carries no lock and this machine is no control-plane node (192.168.217.19): both listed, exit 1.
  expect(r.code).toBe(1);
  expect(r.err).toContain("bundle lock: this binary carries none");
  expect(r.err).toContain("this machine is not a control-plane node");
});

test("usage mistakes exit 2 without a stack trace", { timeout: 60_000 }, () => {
  for (const args of [["nope"], ["install", "--bogus"], ["install", "--only", "nosuchphase", "--dry-run"], ["check-certs", "--output", "xml"], ["install", "-c", "/does/not/exist.yaml"]]) {
    const r = cli(args);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.err).not.toMatch(STACK);
  }
});

describe("bad configs", () => {
  const fixtures = badConfigFixtures();
  test("there are at least 25 different mistakes", () => expect(fixtures.length).toBeGreaterThanOrEqual(25));
  for (const f of fixtures) {
    test(f.name, async () => {
      const r = await inProcess(["install", "--dry-run", "-c", f.file]);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`:${f.line}:`);
      expect(r.err).toContain(f.path === "(document)" ? "" : f.path);
      expect(r.err).not.toMatch(STACK);
    });
  }
});

test("hostKeyPolicy off with a password goes through only with --insecure-skip-host-key-check", async () => {
  const file = join(import.meta.dir, "fixtures/config/bad/95-host-key-off-with-password.yaml");
  const refused = await inProcess(["phases", "-c", file]);
  expect(refused.code).toBe(2);
  expect(refused.err).toContain("95-host-key-off-with-password.yaml:10:18 ssh.hostKeyPolicy: hostKeyPolicy off with password login (passwordEnv K8S_SSH_PASSWORD, e.g. for master1) sends the SSH password to whoever answers at the node's address");
  const allowed = await inProcess(["phases", "-c", file, "--insecure-skip-host-key-check"]);
  expect({ code: allowed.code, err: allowed.err }).toEqual({ code: 0, err: "" });
});
