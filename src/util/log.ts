// One logger for the whole run: terse lines on the terminal, everything (with timestamps) in --log-file.
import { constants, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
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
  return {
    verbose,
    logFile,
    info(msg) {
      toFile("INFO", msg);
      if (!quiet) process.stderr.write(`${msg}\n`);
    },
    warn(msg) {
      toFile("WARN", msg);
      process.stderr.write(`warning: ${msg}\n`);
    },
    debug(msg) {
      toFile("DEBUG", msg);
      if (verbose) process.stderr.write(`  ${msg}\n`);
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
