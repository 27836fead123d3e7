// One logger for the whole run: terse lines on the terminal, everything (with timestamps) in --log-file.
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

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

export function createLogger(opts: { logFile?: string; verbose?: boolean; quiet?: boolean }): RunLogger {
  const { logFile, verbose = false, quiet = false } = opts;
  if (logFile) mkdirSync(dirname(logFile), { recursive: true });
  const toFile = (level: string, msg: string) => {
    if (!logFile) return;
    // 0600: the log holds command output from every node.
    appendFileSync(logFile, `${new Date().toISOString()} ${level} ${msg}\n`, { mode: 0o600 });
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
