// The flags every command takes (declared in main.ts), apart from main.ts so that commands,
// which main.ts loads, do not import main.ts back.
export interface GlobalFlags {
  config: string;
  dryRun?: boolean;
  yes?: boolean;
  logFile?: string;
  verbose?: boolean;
  /** How many default logs of each command to keep (--keep-logs; K8S_HA_KEEP_LOGS). */
  keepLogs?: number | string;
  /** Accept ssh.hostKeyPolicy off together with a password (refused otherwise: exit 2). */
  insecureSkipHostKeyCheck?: boolean;
}
