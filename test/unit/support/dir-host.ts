// A Host whose "root filesystem" is a directory on this machine: tests build a node's files
// (certificates, kubeconfigs, ...) under a temp dir and run real code against them through
// the Host interface, without SSH or root. Absolute paths in exec'd commands are moved
// under the directory and moved back in what the command prints, so shell globs,
// `[ -f ]` tests and `cat` see the fake node. /dev, /proc and /sys stay the real ones.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ShellCommand } from "../../../src/util/sh.ts";
import { HostError, type ExecOptions, type ExecResult, type Host, type WriteOptions } from "../../../src/hosts/host.ts";

export class DirHost implements Host {
  /** Commands run so far (as given, before path rewriting), for tests that count round trips. */
  readonly commands: string[] = [];

  constructor(
    readonly root: string,
    readonly name = "node",
    readonly address = "127.0.0.1",
  ) {}

  /** Where an absolute node path lives on this machine. */
  local(path: string): string {
    if (!path.startsWith("/")) throw new Error(`DirHost needs absolute paths, got ${path}`);
    return join(this.root, path);
  }

  private toLocal(cmd: string): string {
    return cmd.replace(/(^|[\s'"=<>(])\/(?!dev\/|proc\/|sys\/)/g, (m, pre: string, offset: number) =>
      cmd.startsWith(this.root, offset + pre.length) ? m : `${pre}${this.root}/`,
    );
  }

  private fromLocal(text: string): string {
    return text.replaceAll(`${this.root}/`, "/");
  }

  async exec(command: ShellCommand | string, opts: ExecOptions = {}): Promise<ExecResult> {
    const cmd = String(command);
    this.commands.push(cmd);
    const p = Bun.spawn(["sh", "-c", this.toLocal(cmd)], {
      stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
    const result = { code, stdout: this.fromLocal(stdout), stderr: this.fromLocal(stderr) };
    if (opts.check !== false && code !== 0) throw new HostError(this.name, `command failed (exit ${code}): ${cmd}\n${result.stderr}`, result);
    return result;
  }

  async readFile(path: string): Promise<Uint8Array | null> {
    this.commands.push(`readFile ${path}`);
    try {
      return new Uint8Array(readFileSync(this.local(path)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new HostError(this.name, `cannot read ${path}: ${(e as Error).message}`);
    }
  }

  async writeFile(path: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<boolean> {
    const target = this.local(path);
    const mode = opts.mode ?? 0o644;
    const bytes = typeof data === "string" ? Buffer.from(data) : Buffer.from(data);
    try {
      if (readFileSync(target).equals(bytes) && (statSync(target).mode & 0o7777) === mode) return false;
    } catch {
      // absent: write it
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes, { mode });
    chmodSync(target, mode);
    return true;
  }

  async upload(localPath: string, remotePath: string, opts: WriteOptions = {}): Promise<void> {
    mkdirSync(dirname(this.local(remotePath)), { recursive: true });
    copyFileSync(localPath, this.local(remotePath));
    chmodSync(this.local(remotePath), opts.mode ?? 0o644);
  }

  async close(): Promise<void> {}
}
