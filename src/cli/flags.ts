// The flags every command takes (declared in main.ts), apart from main.ts so that commands,
// which main.ts loads, do not import main.ts back.
export interface GlobalFlags {
  config: string;
  dryRun?: boolean;
  yes?: boolean;
  logFile?: string;
  verbose?: boolean;
  /** Accept ssh.hostKeyPolicy off together with a password (refused otherwise: exit 2). */
  insecureSkipHostKeyCheck?: boolean;
}
