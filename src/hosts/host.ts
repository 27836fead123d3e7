// The one interface through which every side effect on a node happens.
// Phases only ever talk to a Host, so they can be unit-tested against a fake
// and proven against real nodes (SSH or local) in the lab.
import type { ShellCommand } from "../util/sh.ts";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill the command and reject with HostError after this long. Default 300 s. */
  timeoutMs?: number;
  /** Written to the command's stdin, then stdin is closed. */
  stdin?: string | Uint8Array;
  /** Reject with HostError when the exit code is not 0 (default true). */
  check?: boolean;
  /** Do not copy stdout into the log (for commands that print secrets). */
  secret?: boolean;
}

export interface WriteOptions {
  /** File mode, e.g. 0o600. Default 0o644. */
  mode?: number;
  /** "user:group"; default root:root. */
  owner?: string;
}

export interface UploadOptions extends WriteOptions {
  /** sha256 of the local file when the caller already has it (the node checks its copy against it either way). */
  sha256?: string;
}

export interface Host {
  /** Node name from the config (= its hostname). */
  readonly name: string;
  /** Address the installer reaches it at. */
  readonly address: string;
  /** Run `sh -c cmd` as root on the node; build cmd with sh`` so every value in it is quoted. */
  exec(cmd: ShellCommand, opts?: ExecOptions): Promise<ExecResult>;
  /** Stream a local file to the node; written to a temp name, fsynced, renamed. */
  upload(localPath: string, remotePath: string, opts?: UploadOptions): Promise<void>;
  /** File content, or null when it does not exist. */
  readFile(path: string): Promise<Uint8Array | null>;
  /** Atomic write (temp + rename) with mode; returns false and touches nothing when content and mode are already equal. */
  writeFile(path: string, data: string | Uint8Array, opts?: WriteOptions): Promise<boolean>;
  close(): Promise<void>;
}

/** A failure on one node: says which node, what was run and what it said. */
export class HostError extends Error {
  constructor(
    readonly host: string,
    /** What went wrong, without the node's name (the message leads with it). */
    readonly reason: string,
    readonly result?: ExecResult,
  ) {
    super(`${host}: ${reason}`);
    this.name = "HostError";
  }
}

/** What went wrong, for a line that already names the node: a host error of that node gives its reason alone. */
export function reasonOn(node: string, err: unknown): string {
  if (err instanceof HostError && err.host === node) return err.reason;
  return err instanceof Error ? err.message : String(err);
}
