// One logger for the whole run: terse lines on the terminal, everything (with timestamps) in --log-file.
import { constants, mkdirSync, openSync, readdirSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { UsageError } from "./errors.ts";

/** What every layer logs through: phases, the depot, the registry. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
}

export interface RunLogger extends Logger {
  /** Only to the log file: command transcripts, per-host output. */
  file(msg: string): void;
  readonly verbose: boolean;
  readonly logFile?: string;
  /**
   * Where terminal lines go (default: stderr). A live status line registers itself here, so that it
   * can clear its line before a log line is written and redraw after: the two are never glued together.
   */
  setTerminal(write: ((text: string) => void) | undefined): void;
}

/**
 * Opens a log file for appending, once for the whole run: 0600 (it holds command output from every
 * node), its missing directories made 0700, and never through a symbolic link at the path (O_NOFOLLOW):
 * a link planted where the log goes would otherwise make root append to any file it names.
 */
export function openLogFile(path: string): number {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP")
      throw new UsageError(`log file ${path} is a symbolic link; refusing to write through it`, "give a --log-file path that is not a symlink (or remove the link)");
    throw new UsageError(`cannot open log file ${path}: ${code ?? String(e)}`, "give a --log-file path in a directory root can write");
  }
}

/** Appends one record; a whole line per write, so concurrent records never interleave mid-line. */
export const appendLog = (fd: number, text: string) => void writeSync(fd, text);

export function createLogger(opts: { logFile?: string; verbose?: boolean; quiet?: boolean }): RunLogger {
  const { logFile, verbose = false, quiet = false } = opts;
  const fd = logFile ? openLogFile(logFile) : undefined;
  const toFile = (level: string, msg: string) => {
    if (fd !== undefined) appendLog(fd, `${new Date().toISOString()} ${level} ${msg}\n`);
  };
  let terminal: ((text: string) => void) | undefined;
  const say = (text: string) => (terminal ? terminal(text) : void process.stderr.write(text));
  return {
    verbose,
    logFile,
    setTerminal(write) {
      terminal = write;
    },
    info(msg) {
      toFile("INFO", msg);
      if (!quiet) say(`${msg}\n`);
    },
    warn(msg) {
      toFile("WARN", msg);
      say(`warning: ${msg}\n`);
    },
    debug(msg) {
      toFile("DEBUG", msg);
      if (verbose) say(`  ${msg}\n`);
    },
    file(msg) {
      toFile("TRACE", msg);
    },
  };
}

/** Secrets must never reach a log: replace every known secret value before writing. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 6) out = out.split(s).join("<redacted>");
  return out;
}

/** How many logs of one command are kept (K8S_HA_KEEP_LOGS or --keep-logs overrides it). */
export const DEFAULT_KEEP_LOGS = 20;

/**
 * Keeps the newest `keep` logs of `command` in `dir` (names `<command>-<ISO time>.log`) and deletes the
 * rest: a check-certs cron every 5 minutes would otherwise leave 288 files a day. Only files that match
 * the command's own pattern are touched; a file that cannot be removed is left (pruning never fails a run).
 */
export function pruneLogs(dir: string, command: string, keep: number): string[] {
  const pattern = new RegExp(`^${command.replace(/[^a-z0-9-]/gi, "")}-\\d{4}-\\d{2}-\\d{2}T[\\d-]+Z\\.log$`);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => pattern.test(n));
  } catch {
    return [];
  }
  // The ISO stamp sorts by time; the mtime breaks ties from the same millisecond.
  const sorted = names
    .map((n) => ({ n, t: (() => { try { return statSync(join(dir, n)).mtimeMs; } catch { return 0; } })() }))
    .sort((a, b) => (a.n < b.n ? 1 : a.n > b.n ? -1 : b.t - a.t));
  const removed: string[] = [];
  for (const { n } of sorted.slice(Math.max(0, keep))) {
    try {
      rmSync(join(dir, n), { force: true });
      removed.push(n);
    } catch {
      // left for the next run
    }
  }
  return removed;
}

