// What SSH and local hosts share: every operation is a `sh -c` script run as root, so
// exec/readFile/writeFile/upload behave identically on both. A subclass only supplies
// `runRaw`: how to run one script, with stdin, under a deadline.
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import { HostError, type ExecOptions, type ExecResult, type Host, type UploadOptions, type WriteOptions } from "./host.ts";
import type { LogSink } from "./log-sink.ts";
import { isShellCommand, sh, shellScript, shJoin, type ShellCommand } from "../util/sh.ts";
import { bytesSha256, fileSha256 } from "./sha256.ts";
import { coalescer } from "./coalesce.ts";

/** What a script reads on stdin: nothing, some bytes, or a local file streamed as it is read. */
export type StdinSource = string | Uint8Array | { file: string };

export interface RawResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

export const DEFAULT_TIMEOUT_MS = 300_000;
const DEFAULT_MODE = 0o644;
const DEFAULT_OWNER = "root:root";
// readFile's script exits with this when the file is absent (cat itself only exits 0 or 1).
const ABSENT_EXIT = 200;

const secondsText = (ms: number) => `${+(ms / 1000).toFixed(1)}s`;
const shorten = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…` : s);
const tail = (s: string, lines: number) => s.trimEnd().split("\n").slice(-lines).join("\n");

export function timeoutError(host: string, ms: number, cmd: string): HostError {
  return new HostError(host, `timed out after ${secondsText(ms)} running: ${shorten(cmd, 300)}`);
}

/** The message for a command that exited non-zero: what ran, the code, the last lines it printed. */
function commandFailed(host: string, cmd: string, r: ExecResult, what = "command failed"): HostError {
  const said = tail(r.stderr || r.stdout, 15);
  return new HostError(host, `${what} (exit ${r.code}): ${shorten(cmd, 300)}${said ? `\n${said}` : ""}`, r);
}

const randomSuffix = () => randomBytes(6).toString("hex");
const modeText = (mode: number) => (mode & 0o7777).toString(8);

/** Temp file next to the destination, so the final rename stays on one filesystem (atomic). */
export const tempPathFor = (path: string) => `${path}.tmp-${randomSuffix()}`;

/**
 * Script that fills a temp file from stdin and turns it into `path`: check its sha256,
 * set owner and mode, fsync, rename over the destination, fsync the directory. The temp file
 * is created under umask 077 so secrets are never readable by others, and removed on failure
 * (and by the next write to the same path, should a power cut have left one);
 * missing parent directories are created with the default umask.
 */
export function placeFileScript(o: { path: string; tmp: string; sha256: string; mode: number; owner: string }): ShellCommand {
  return shJoin(
    [
      sh`set -e`,
      // The paths are set once and then only read as "$var": the EXIT trap's text is parsed again when
      // it fires, so a path written into it would be re-read as shell (a quote or $(...) in stateDir).
      sh`tmp=${o.tmp}; dest=${o.path}; dir=${dirname(o.path)}; want=${o.sha256}`,
      // A signal (the SSH session torn down) must not skip the clean-up: exit through the EXIT trap.
      sh`trap 'rm -f -- "$tmp"' EXIT`,
      sh`trap 'exit 129' HUP; trap 'exit 141' PIPE; trap 'exit 143' TERM`,
      sh`mkdir -p -- "$dir"`,
      // Temp files of a write that was cut harder than that (power off, SIGKILL): the next write cleans up.
      sh`rm -f -- "$dest".tmp-*`,
      sh`umask 077`,
      sh`cat > "$tmp"`,
      sh`sum=$(sha256sum < "$tmp"); sum=\${sum%% *}`,
      sh`if [ "$sum" != "$want" ]; then echo "sha256 mismatch after transfer: expected $want, got $sum" >&2; exit 1; fi`,
      sh`chown ${o.owner} "$tmp"`,
      sh`chmod ${modeText(o.mode)} "$tmp"`,
      // coreutils < 8.24 (CentOS 7) has no `sync FILE`: fall back to syncing everything.
      sh`sync "$tmp" 2>/dev/null || sync`,
      sh`mv -f -- "$tmp" "$dest"`,
      sh`sync "$dir" 2>/dev/null || sync`,
    ],
    "\n",
  );
}

/** Prints "<mode> <user:group> <uid:gid>" and the sha256 of a regular file; nothing when it is absent. */
const fileStateScript = (path: string) =>
  sh`if [ -f ${path} ]; then stat -c '%a %U:%G %u:%g' -- ${path} && sha256sum < ${path}; fi`;

/** What fileMatches compares: a regular file's mode, owner (names and ids) and sha256; null when there is none. */
type FileState = { mode: number; names: string; ids: string; sha256: string } | null;

// Files a batched read passes through the shell (base64 in a variable); a bigger one is read on its own.
const BATCH_READ_MAX_BYTES = 1 << 20;

/**
 * One line per path, in order: "A" absent, "F<base64>" its content, "E" anything else (unreadable,
 * not a regular file, too big), which the caller asks again on its own for the exact error.
 */
const readManyScript = (paths: string[]) =>
  shJoin(
    [
      sh`r() { if [ ! -e "$1" ]; then echo A; elif [ -f "$1" ] && n=$(wc -c < "$1" 2>/dev/null) && [ "$n" -le ${BATCH_READ_MAX_BYTES} ] && d=$(base64 -w0 -- "$1" 2>/dev/null); then echo "F$d"; else echo E; fi; }`,
      ...paths.map((p) => sh`r ${p}`),
    ],
    "\n",
  );

/** One line per path, in order: "-" no regular file, "<mode> <user:group> <uid:gid> <sha256>", or "E". */
const fileStateManyScript = (paths: string[]) =>
  shJoin(
    [
      sh`m() { if [ ! -f "$1" ]; then echo -; elif s=$(stat -c '%a %U:%G %u:%g' -- "$1" 2>/dev/null) && h=$(sha256sum < "$1" 2>/dev/null); then echo "$s \${h%% *}"; else echo E; fi; }`,
      ...paths.map((p) => sh`m ${p}`),
    ],
    "\n",
  );

/** The batch's lines, one per key, or none when it did not answer every key (each is then asked alone). */
function batchLines(raw: RawResult, count: number): string[] | null {
  const lines = raw.stdout.toString().split("\n");
  if (lines.at(-1) === "") lines.pop();
  return raw.code === 0 && lines.length === count ? lines : null;
}

/** "<mode> <user:group> <uid:gid> <sha256>" as a FileState; undefined when it is not that. */
function parseFileState(line: string): FileState | undefined {
  const [mode, names, ids, sha256, ...more] = line.split(" ");
  return sha256 && !more.length ? { mode: parseInt(mode!, 8), names: names!, ids: ids!, sha256 } : undefined;
}

export abstract class ShellHost implements Host {
  constructor(
    readonly name: string,
    readonly address: string,
    protected readonly log: LogSink,
  ) {}

  /**
   * Run `sh -c script` as root. Rejects with HostError on timeout or lost connection (calling the
   * command `shown` in the message), never on a non-zero exit.
   */
  protected abstract runRaw(script: ShellCommand, stdin: StdinSource | undefined, timeoutMs: number, shown: string): Promise<RawResult>;

  abstract close(): Promise<void>;

  /** runRaw plus a log record of what ran, how long it took and what it printed. */
  protected async run(script: ShellCommand, o: { stdin?: StdinSource; timeoutMs?: number; secret?: boolean; shown?: string } = {}): Promise<RawResult> {
    const started = performance.now();
    const record = { host: this.name, cmd: script.text, secret: o.secret ?? false };
    try {
      const raw = await this.runRaw(script, o.stdin, o.timeoutMs ?? DEFAULT_TIMEOUT_MS, o.shown ?? script.text);
      // Secret output never reaches a sink, whatever the sink does with it.
      const output = record.secret ? { stdout: "", stderr: "" } : { stdout: raw.stdout.toString(), stderr: raw.stderr.toString() };
      this.log.exec({ ...record, ...output, code: raw.code, durationMs: performance.now() - started });
      return raw;
    } catch (e) {
      const failure = e instanceof HostError ? e.message : String(e);
      this.log.exec({ ...record, code: null, durationMs: performance.now() - started, stdout: "", stderr: "", failure });
      throw e;
    }
  }

  async exec(cmd: ShellCommand, opts: ExecOptions = {}): Promise<ExecResult> {
    const raw = await this.run(cmd, opts);
    const result = { code: raw.code, stdout: raw.stdout.toString(), stderr: raw.stderr.toString() };
    // A secret command's stdout is what it was run for (a token, a key): never in an error, whose
    // message reaches the terminal and the log. Its stderr says why it failed and stays.
    if (opts.check !== false && result.code !== 0) throw commandFailed(this.name, cmd.text, opts.secret ? { ...result, stdout: "" } : result);
    return result;
  }

  // Reads and file comparisons asked for side by side share one command (./coalesce.ts).
  private readonly reads = coalescer<Uint8Array | null>(
    (paths) => this.readMany(paths),
    (path) => this.readOne(path),
  );
  private readonly fileStates = coalescer<FileState>(
    (paths) => this.fileStateMany(paths),
    (path) => this.fileStateOne(path),
  );

  readFile(path: string): Promise<Uint8Array | null> {
    return this.reads(path);
  }

  private async readOne(path: string): Promise<Uint8Array | null> {
    const raw = await this.run(sh`if [ -e ${path} ]; then exec cat -- ${path}; else exit ${ABSENT_EXIT}; fi`, { secret: true });
    if (raw.code === ABSENT_EXIT) return null;
    if (raw.code !== 0) throw commandFailed(this.name, `read ${path}`, { code: raw.code, stdout: "", stderr: raw.stderr.toString() }, "cannot read file");
    return new Uint8Array(raw.stdout.buffer, raw.stdout.byteOffset, raw.stdout.byteLength);
  }

  private async readMany(paths: string[]): Promise<(Uint8Array | null | undefined)[]> {
    const lines = batchLines(await this.run(readManyScript(paths), { secret: true, shown: `read ${paths.join(", ")}` }), paths.length);
    if (!lines) return paths.map(() => undefined);
    return lines.map((l) => (l === "A" ? null : l.startsWith("F") ? new Uint8Array(Buffer.from(l.slice(1), "base64")) : undefined));
  }

  /** Whether `path` already is a regular file with exactly this sha256, mode and owner. */
  protected async fileMatches(path: string, sha256: string, mode: number, owner: string): Promise<boolean> {
    const cur = await this.fileStates(path);
    return cur !== null && cur.mode === (mode & 0o7777) && (owner === cur.names || owner === cur.ids) && cur.sha256 === sha256;
  }

  private async fileStateOne(path: string): Promise<FileState> {
    const raw = await this.run(fileStateScript(path));
    if (raw.code !== 0) throw commandFailed(this.name, `stat ${path}`, { code: raw.code, stdout: "", stderr: raw.stderr.toString() }, "cannot inspect file");
    const [statLine, sumLine] = raw.stdout.toString().split("\n");
    return (statLine && sumLine && parseFileState(`${statLine} ${sumLine.split(" ")[0]}`)) || null;
  }

  private async fileStateMany(paths: string[]): Promise<(FileState | undefined)[]> {
    const lines = batchLines(await this.run(fileStateManyScript(paths), { shown: `stat ${paths.join(", ")}` }), paths.length);
    if (!lines) return paths.map(() => undefined);
    return lines.map((l) => (l === "-" ? null : parseFileState(l)));
  }

  /** Fill a temp file from `content`, verify, and rename it over `path` (see placeFileScript). */
  private async place(path: string, content: StdinSource, sha256: string, opts: WriteOptions, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const script = placeFileScript({ path, tmp: tempPathFor(path), sha256, mode: opts.mode ?? DEFAULT_MODE, owner: opts.owner ?? DEFAULT_OWNER });
    const raw = await this.run(script, { stdin: content, timeoutMs, shown: `write ${path}` });
    if (raw.code !== 0) throw commandFailed(this.name, `write ${path}`, { code: raw.code, stdout: "", stderr: raw.stderr.toString() }, "cannot write file");
  }

  async writeFile(path: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<boolean> {
    const sha256 = bytesSha256(data);
    if (await this.fileMatches(path, sha256, opts.mode ?? DEFAULT_MODE, opts.owner ?? DEFAULT_OWNER)) return false;
    await this.place(path, data, sha256, opts);
    return true;
  }

  async upload(localPath: string, remotePath: string, opts: UploadOptions = {}): Promise<void> {
    const sha256 = opts.sha256 ?? (await localFileSha256(this.name, localPath));
    // Big files on slow links: allow a floor of 1 MB/s on top of the usual timeout.
    const timeoutMs = DEFAULT_TIMEOUT_MS + (await stat(localPath)).size / 1000;
    await this.place(remotePath, { file: localPath }, sha256, opts, timeoutMs);
  }
}

/** sha256 of a file about to be uploaded, with a clear error when it is not there. */
export async function localFileSha256(host: string, localPath: string): Promise<string> {
  const st = await stat(localPath).catch(() => null);
  if (!st?.isFile()) throw new HostError(host, `cannot upload ${localPath}: no such file on this machine`);
  return fileSha256(localPath);
}
