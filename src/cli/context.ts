// Shared set-up for commands that work on a cluster: config, logger, host connections, phase context.
import { join } from "node:path";
import type { ClusterConfig } from "../config/types.ts";
import { firstMaster } from "../config/types.ts";
import { createLogger, type RunLogger } from "../util/log.ts";
import type { PhaseContext } from "../phases/phase.ts";
import { HostPool } from "../hosts/pool.ts";
import { LocalHost } from "../hosts/local.ts";
import { toLogSink } from "../hosts/log-sink.ts";
import type { GlobalFlags } from "./flags.ts";
import { runInputs, type RunFlags } from "./run-inputs.ts";
import { UsageError } from "../util/errors.ts";
import { embeddedLock } from "../depot/lock.ts";
import { acquireRunLock } from "./run-lock.ts";

/** Commands that change nodes: one of them at a time (see run-lock.ts). */
const CHANGING = new Set(["install", "remove-node", "renew-certs", "verify-failover", "restore", "reset", "backup-schedule"]);

export interface ClusterSession {
  config: ClusterConfig;
  log: RunLogger;
  ctx: PhaseContext;
  pool: HostPool;
  close(): Promise<void>;
}

export function defaultLogFile(config: ClusterConfig, command: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return join(config.stateDir, "logs", `${command}-${stamp}.log`);
}

export function openSession(config: ClusterConfig, flags: RunFlags & { ignorePreflightErrors?: string }, command: string): ClusterSession {
  const { bundleDir, depot } = runInputs(flags, config);
  const logFile = flags.dryRun ? flags.logFile : (flags.logFile ?? defaultLogFile(config, command));
  const log = createLogger({ logFile, verbose: flags.verbose });
  const master = firstMaster(config);
  const pool = new HostPool({ config, log, notice: (m) => log.info(m) });
  // The installer's state, the depot and kubectl live on master1, where this binary runs.
  const local = new LocalHost({ name: master.name, address: master.address, log: toLogSink(log) });
  const shared = new Map<string, unknown>();
  const ctx: PhaseContext = {
    config,
    host: (spec) => pool.get(spec),
    local,
    bundleDir,
    stateDir: config.stateDir,
    depot,
    log,
    dryRun: Boolean(flags.dryRun),
    ignorePreflightErrors: parseList(flags.ignorePreflightErrors, "--ignore-preflight-errors") ?? [],
    selfPath: process.execPath,
    lock: embeddedLock(),
    once: <T>(key: string, make: () => T): T => {
      if (!shared.has(key)) shared.set(key, make());
      return shared.get(key) as T;
    },
  };
  const release = CHANGING.has(command) && !flags.dryRun ? acquireRunLock(config.stateDir, command) : () => {};
  return {
    config, log, ctx, pool,
    close: async () => {
      try {
        await pool.closeAll();
      } finally {
        release();
      }
    },
  };
}

/** install keeps state, the depot and kubectl on master1: refuse to run anywhere else. */
export function requireMaster1(session: ClusterSession): void {
  const master = firstMaster(session.config);
  if (!session.pool.isLocal(master))
    throw new UsageError(
      `install runs on master1 (${master.name}, ${master.address}), and this machine has none of that address`,
      `copy the binary and the bundle to ${master.address} and run it there, or list this machine first among the control-plane hosts`,
    );
}

export function parseList(value: unknown, flag: string): string[] | undefined {
  if (value === undefined || value === true) return undefined;
  if (typeof value !== "string") throw new UsageError(`${flag} takes a comma-separated list`);
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}

export function parsePositiveInt(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a whole number >= 1, got "${value}"`);
  return n;
}

/** Changing nodes needs an explicit yes: a prompt on a TTY, --yes otherwise. */
export async function confirm(question: string, flags: GlobalFlags): Promise<void> {
  if (flags.yes) return;
  if (!process.stdin.isTTY) throw new UsageError("this changes the nodes; run with --yes to confirm (no terminal to ask on)");
  process.stderr.write(`${question} [y/N] `);
  for await (const line of console) {
    if (/^y(es)?$/i.test(line.trim())) return;
    break;
  }
  throw new UsageError("not confirmed; nothing was changed");
}
