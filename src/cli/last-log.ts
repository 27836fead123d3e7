// The log file of the command running in this process. Its own module (not context.ts) so that
// main.ts can print it after a failure without loading what a session needs (ssh2, yaml, the
// config loader): `--help` and `version` start in a few milliseconds only if main.ts stays light.

let lastLog: string | undefined;
/** The log of the command running in this process (main.ts prints it after a failure). */
export const currentLogFile = () => lastLog;
/** A new command line starts with no log (main.ts; several run in one test process). */
export const forgetLogFile = () => void (lastLog = undefined);
/** context.ts records the log it opened. */
export const setLogFile = (file: string | undefined) => void (lastLog = file);
