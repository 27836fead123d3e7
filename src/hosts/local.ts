// The machine the binary runs on (master1): same Host semantics as over SSH, without SSH.
// Runs as the current user, which the installer requires to be root.
import { hostname } from "node:os";
import { toLogSink, type LogTarget } from "./log-sink.ts";
import { ShellHost, timeoutError, type RawResult, type StdinSource } from "./shell-host.ts";
import type { ShellCommand } from "../util/sh.ts";

function spawnStdin(stdin: StdinSource | undefined) {
  if (stdin === undefined) return "ignore" as const;
  if (typeof stdin === "string") return Buffer.from(stdin);
  if (stdin instanceof Uint8Array) return stdin;
  return Bun.file(stdin.file);
}

export class LocalHost extends ShellHost {
  constructor(opts: { name?: string; address?: string; log?: LogTarget } = {}) {
    super(opts.name ?? hostname(), opts.address ?? "127.0.0.1", toLogSink(opts.log));
  }

  protected async runRaw(script: ShellCommand, stdin: StdinSource | undefined, timeoutMs: number, shown: string): Promise<RawResult> {
    // detached: own process group, so a timeout kills the script and everything it started.
    const proc = Bun.spawn(["sh", "-c", script.text], { stdin: spawnStdin(stdin), stdout: "pipe", stderr: "pipe", detached: true });
    let timer: Timer | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        try {
          process.kill(-proc.pid, "SIGKILL");
        } catch {
          // already gone
        }
        reject(timeoutError(this.name, timeoutMs, shown));
      }, timeoutMs);
    });
    try {
      const [code, stdout, stderr] = await Promise.race([
        Promise.all([proc.exited, new Response(proc.stdout).arrayBuffer(), new Response(proc.stderr).arrayBuffer()]),
        timedOut,
      ]);
      return { code, stdout: Buffer.from(stdout), stderr: Buffer.from(stderr) };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {}
}
