// The status and verify commands' usage surface, through the real CLI entry point: bad flags exit 2
// with a message and no stack trace, before any node is contacted; --dry-run prints the drill plan.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CLI = join(import.meta.dir, "..", "..", "src", "cli.ts");
const dir = mkdtempSync(join(tmpdir(), "ops-cli-"));
const config = join(dir, "cluster.yaml");

function cli(...args: string[]) {
  const p = Bun.spawnSync([process.execPath, CLI, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: dir });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

beforeAll(() => {
  expect(cli("init", "-o", config).code).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("usage errors exit 2 without a stack trace", () => {
  const cases: [string[], RegExp][] = [
    [["verify", "-c", config], /verify needs to be told what to verify/],
    [["verify", "--failover", "--budget-haproxy", "0", "-c", config], /--budget-haproxy must be a number of seconds/],
    [["verify", "--failover", "--budget-keepalived", "soon", "-c", config], /--budget-keepalived must be a number of seconds/],
    [["verify", "--failover", "--requests-per-second", "0", "-c", config], /--requests-per-second must be a whole number/],
    [["verify", "--failover", "--requests-per-second", "5000", "-c", config], /at most 200/],
    [["verify", "--failover", "-c", config], /run with --yes to confirm/],
    [["status", "--output", "xml", "-c", config], /--output must be table, json or yaml/],
    [["status", "-c", join(dir, "missing.yaml")], /missing\.yaml/],
  ];
  for (const [args, message] of cases)
    test(args.filter((a) => a !== config).join(" "), () => {
      const r = cli(...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/^\s+at /m);
    });
});

test("verify --failover --dry-run prints the plan and changes nothing", () => {
  const r = cli("verify", "--failover", "--dry-run", "--budget-haproxy", "6.5", "--requests-per-second", "40", "-c", config);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/haproxy \(budget 6\.5 s\), then keepalived \(budget 4 s\), with 40 requests\/s to https:\/\/[\d.]+:9443\/readyz/);
});
