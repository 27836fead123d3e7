// What each command promises beyond its flags: whether it honours --dry-run, whether it needs root,
// and its exit codes. --help, README's exit-code table (docs/output.md) and the refusals in main.ts
// all read this one table.

export interface CommandRules {
  /** Honours the global --dry-run (anything else refuses it: exit 2, never silently ignored). */
  dryRun?: boolean;
  /** Changes nothing anywhere: a --dry-run is refused with "run it without --dry-run". */
  readOnly?: boolean;
  /** Needs root on master1 (state dir, /root/.ssh, /etc/kubernetes); refused early otherwise (exit 2). */
  root?: boolean;
  /** Exceptions to `root`, from the parsed flags (backup --verify reads a file and asks the cluster). */
  rootUnless?: (flags: Record<string, unknown>) => boolean;
}

export const COMMAND_RULES: Record<string, CommandRules> = {
  init: {},
  install: { dryRun: true, root: true },
  preflight: { readOnly: true },
  "check-certs": { readOnly: true },
  "renew-certs": { dryRun: true, root: true },
  upgrade: { dryRun: true, root: true },
  status: { readOnly: true },
  verify: { dryRun: true, root: true },
  "verify-bundle": { readOnly: true },
  serve: {},
  "add-node": { dryRun: true, root: true },
  "remove-node": { dryRun: true, root: true },
  "replace-node": { dryRun: true, root: true },
  backup: { dryRun: true, root: true, rootUnless: (f) => f.verify !== undefined },
  restore: { dryRun: true, root: true },
  reset: { dryRun: true, root: true },
  phases: { readOnly: true },
  kubeconfig: { readOnly: true },
  completion: { readOnly: true },
  version: { readOnly: true },
};

/** Codes every command shares. */
const COMMON: [number, string][] = [
  [0, "ok"],
  [1, "failed on a node or in the bundle (the message says where; re-run to resume)"],
  [2, "bad usage, bad config or not root where root is needed: nothing was changed"],
];

/** Codes with a meaning of their own, per command (replacing the common text for that number). */
export const EXIT_CODES: Record<string, [number, string][]> = {
  install: [[1, "a phase failed (or, with --dry-run, the problems listed would stop the install)"]],
  preflight: [[1, "a check failed on a node, or a node could not be reached"]],
  "check-certs": [
    [0, "every certificate ok"],
    [1, "a certificate expires within --warn-days"],
    [3, "could not check: a node unreachable, or no certificate where some must be (an `unreachable`/`missing` row says which)"],
    [4, "a certificate expired or broken (wrong CA, key mismatch, missing name)"],
  ],
  status: [
    [0, "healthy"],
    [1, "degraded (the problems are listed)"],
    [3, "not installed on any node, or no node reachable"],
  ],
  "verify-bundle": [[1, "the bundle does not match the lock"]],
  upgrade: [
    [1, "refused for the cluster's state (etcd member down, node NotReady, certificates expiring), or a step failed (re-run to resume)"],
    [2, "refused for what was brought: a skipped minor, a downgrade, another profile, a bundle failing verification or not this binary's; nothing was changed"],
  ],
  backup: [[1, "backup failed, or --verify found the archive bad"]],
};

export function exitCodesOf(command: string): [number, string][] {
  const own = new Map(EXIT_CODES[command] ?? []);
  const merged = new Map(COMMON);
  for (const [c, t] of own) merged.set(c, t);
  return [...merged].sort((a, b) => a[0] - b[0]);
}

/** For --help: one command's codes, or (no command) the shared ones and the commands with their own. */
export function exitCodesText(command?: string): string {
  if (command) return exitCodesOf(command).map(([c, t]) => `  ${c}  ${t}`).join("\n");
  // The overview names only the commands with codes of their own beyond 0-2 (for monitoring).
  const special = Object.entries(EXIT_CODES).filter(([, codes]) => codes.some(([c]) => c > 2));
  return [
    ...COMMON.map(([c, t]) => `  ${c}  ${t}`),
    ...special.map(([cmd, codes]) => `  ${cmd}: ${codes.map(([c, t]) => `${c} ${t.split(/ \(|:/)[0]}`).join(", ")}`),
    "  (each command's --help lists its own; docs/output.md has them all)",
  ].join("\n");
}
