// Where every command run on a node is recorded (command, exit code, duration, output).
// The CLI connects a file sink to --log-file; by default nothing is recorded.
import { appendLog, openLogFile } from "../util/log.ts";

export interface ExecRecord {
  host: string;
  cmd: string;
  /** null when the command never finished (timeout, lost connection). */
  code: number | null;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** The caller asked for the output to stay out of logs. */
  secret: boolean;
  /** Why there is no exit code, e.g. "timed out after 5s". */
  failure?: string;
}

export interface LogSink {
  exec(record: ExecRecord): void;
}

export const noLogSink: LogSink = { exec() {} };

const indent = (text: string) => text.replace(/\n$/, "").replace(/^/gm, "    ");

/** Plain-text record of one command, readable in a log file. */
export function formatExecRecord(r: ExecRecord): string {
  const status = r.failure ?? `exit ${r.code}`;
  const lines = [`[${r.host}] $ ${r.cmd}`, `  -> ${status} in ${Math.round(r.durationMs)} ms`];
  if (r.secret) lines.push("  (output not logged: secret)");
  else {
    if (r.stdout) lines.push("  stdout:", indent(r.stdout));
    if (r.stderr) lines.push("  stderr:", indent(r.stderr));
  }
  return lines.join("\n") + "\n";
}

/** Appends every record to a file (synchronously, so a crash never loses the last command); 0600, never through a symlink. */
export function fileLogSink(path: string): LogSink {
  const fd = openLogFile(path);
  return { exec: (r) => appendLog(fd, `${new Date().toISOString()} ${formatExecRecord(r)}`) };
}

/** Anything with a `file(line)` method (the CLI's run logger) can take the records too. */
export type LogTarget = LogSink | { file(msg: string): void };

export function toLogSink(target: LogTarget | undefined): LogSink {
  if (!target) return noLogSink;
  if ("exec" in target) return target;
  return { exec: (r) => target.file(formatExecRecord(r).trimEnd()) };
}
