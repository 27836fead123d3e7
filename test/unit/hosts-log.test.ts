// Command transcripts: what a log file gets for each command, and that secrets stay out.
import { test, expect } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalHost } from "../../src/hosts/local.ts";
import { fileLogSink } from "../../src/hosts/log-sink.ts";
import { shellScript } from "../../src/util/sh.ts";
import { HostError } from "../../src/hosts/host.ts";

test("a file sink records command, exit code, duration and output; private file; secrets left out", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hosts-log-"));
  try {
    const file = join(dir, "install.log");
    const host = new LocalHost({ name: "master1", log: fileLogSink(file) });
    await host.exec(shellScript("echo to-stdout; echo to-stderr >&2; exit 4"), { check: false });
    await host.exec(shellScript("echo s3cr3t-token"), { secret: true });
    await host.exec(shellScript("sleep 5"), { timeoutMs: 200 }).catch(() => {});
    const text = readFileSync(file, "utf8");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z \[master1\] \$ echo to-stdout; echo to-stderr >&2; exit 4\n  -> exit 4 in \d+ ms\n  stdout:\n    to-stdout\n  stderr:\n    to-stderr\n/);
    expect(text).toContain("[master1] $ echo s3cr3t-token\n");
    expect(text.split("s3cr3t-token").length).toBe(2); // only in the command line, never as output
    expect(text).toContain("(output not logged: secret)");
    expect(text).toMatch(/\[master1\] \$ sleep 5\n  -> master1: timed out after 0.2s running: sleep 5 in \d+ ms\n/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the CLI's run logger (anything with file(line)) receives the same transcript", async () => {
  const lines: string[] = [];
  const host = new LocalHost({ name: "master1", log: { file: (l) => lines.push(l) } });
  await host.exec(shellScript("echo hi"));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^\[master1\] \$ echo hi\n  -> exit 0 in \d+ ms\n  stdout:\n    hi$/);
});

test("a failing secret command's stdout reaches neither the error nor the log; its stderr says why", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hosts-log-"));
  try {
    const file = join(dir, "install.log");
    const host = new LocalHost({ name: "master1", log: fileLogSink(file) });
    const err = (await host.exec(shellScript("echo abcdef.0123456789abcdef; echo token backend down >&2; exit 3"), { secret: true }).catch((e) => e)) as HostError;
    expect(err).toBeInstanceOf(HostError);
    expect(err.message).toBe("master1: command failed (exit 3): echo abcdef.0123456789abcdef; echo token backend down >&2; exit 3\ntoken backend down");
    expect(err.result?.stdout).toBe("");
    // A secret that printed nothing on stderr: the error still carries none of its stdout.
    const quiet = (await host.exec(shellScript("printf 'k3y-material'; exit 1"), { secret: true }).catch((e) => e)) as HostError;
    expect(quiet.message).not.toContain("k3y-material\n");
    expect(quiet.message.split("k3y-material").length).toBe(2); // the command line only
    const text = readFileSync(file, "utf8");
    expect(text.split("abcdef.0123456789abcdef").length).toBe(2); // the command line only
    expect(text.split("(output not logged: secret)").length).toBe(3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
