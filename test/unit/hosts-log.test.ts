// Command transcripts: what a log file gets for each command, and that secrets stay out.
import { test, expect } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalHost } from "../../src/hosts/local.ts";
import { fileLogSink } from "../../src/hosts/log-sink.ts";
import { shellScript } from "../../src/util/sh.ts";
import { HostError } from "../../src/hosts/host.ts";
import { createLogger } from "../../src/util/log.ts";
import { UsageError } from "../../src/util/errors.ts";
import { runCliInProcess } from "./support/run-cli.ts";

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

test("--log-file: a symlink at the path is refused (nothing written through it); missing directories are made 0700", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hosts-log-"));
  try {
    const target = join(dir, "shadow");
    writeFileSync(target, "root:x:0:0\n");
    const link = join(dir, "install.log");
    symlinkSync(target, link);
    for (const open of [() => createLogger({ logFile: link }), () => fileLogSink(link)]) {
      const err = (() => {
        try {
          open();
        } catch (e) {
          return e;
        }
      })() as UsageError;
      expect(err).toBeInstanceOf(UsageError);
      expect(err.message).toBe(`log file ${link} is a symbolic link; refusing to write through it`);
    }
    expect(readFileSync(target, "utf8")).toBe("root:x:0:0\n");
    // Through the CLI: exit 2, the message, no stack.
    const r = await runCliInProcess(["check-certs", "-c", join(import.meta.dir, "fixtures/config/good/lab.yaml"), "--log-file", link]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`error: log file ${link} is a symbolic link; refusing to write through it\nhint: give a --log-file path that is not a symlink (or remove the link)\n`);
    const nested = join(dir, "a", "b", "run.log");
    const log = createLogger({ logFile: nested, quiet: true });
    log.info("hello");
    expect(statSync(join(dir, "a")).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "a", "b")).mode & 0o777).toBe(0o700);
    expect(statSync(nested).mode & 0o777).toBe(0o600);
    expect(readFileSync(nested, "utf8")).toMatch(/^\S+Z INFO hello\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
