// Errors every layer may throw, and the exit codes they map to. Exit codes are part of the interface
// (README "Exit codes"): scripts and CI rely on them.
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Bad flags, bad arguments, bad config: the operator's input is wrong, nothing was changed. */
export class UsageError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A step failed on a node or locally; the message already says what, where and what to do. */
export class InstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InstallError";
  }
}

/** The message of an error (or the thing thrown, as text): what the operator reads, without a stack. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
