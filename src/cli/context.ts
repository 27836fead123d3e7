// Shared set-up for commands that work on a cluster: config, logger, host connections, phase context.
import { join } from "node:path";
import type { ClusterConfig } from "../config/types.ts";
import { controlPlanes, firstMaster, type HostSpec } from "../config/types.ts";
import { createLogger, pruneLogs, DEFAULT_KEEP_LOGS, type RunLogger } from "../util/log.ts";
import { accessSync, constants, existsSync } from "node:fs";
import { dirname } from "node:path";
import type { PhaseContext } from "../phases/phase.ts";
import { HostPool } from "../hosts/pool.ts";
import { LocalHost } from "../hosts/local.ts";
import { CredentialResolver, REPLICATED_KEY, expandHome } from "../hosts/credentials.ts";
import { toLogSink } from "../hosts/log-sink.ts";
import type { GlobalFlags } from "./flags.ts";
import { configPath, runInputs, type RunFlags } from "./run-inputs.ts";
import { UsageError } from "../util/errors.ts";
import { reasonOn } from "../hosts/host.ts";
import { isUnreachable } from "../hosts/ssh-connect.ts";
import { setLogFile } from "./last-log.ts";
import { embeddedLock } from "../depot/lock.ts";
import { acquireClusterLock, acquireRunLock } from "./run-lock.ts";
import { assertNewestState, collectState, replicateState } from "../cluster/state-replica.ts";

/** Commands that change nodes: one of them at a time (see run-lock.ts). */
const CHANGING = new Set(["install", "upgrade", "remove-node", "replace-node", "add-node", "renew-certs", "verify-failover", "restore", "reset", "backup-schedule"]);

export interface ClusterSession {
  config: ClusterConfig;
  log: RunLogger;
  ctx: PhaseContext;
  pool: HostPool;
  close(): Promise<void>;
}

// The log of this process lives in last-log.ts (main.ts reads it without loading this module).
export { currentLogFile, forgetLogFile } from "./last-log.ts";

/** --keep-logs, else $K8S_HA_KEEP_LOGS, else 20. */
export function keepLogs(flags: { keepLogs?: unknown }, env: NodeJS.ProcessEnv = process.env): number {
  const v = flags.keepLogs ?? env.K8S_HA_KEEP_LOGS;
  if (v === undefined || v === "") return DEFAULT_KEEP_LOGS;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flags.keepLogs !== undefined ? "--keep-logs" : "K8S_HA_KEEP_LOGS"} must be a whole number >= 0, got "${v}"`);
  return n;
}

/** Whether this user may create files in dir (or in the nearest existing parent that would hold it). */
function writable(dir: string): boolean {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  try {
    accessSync(d, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function defaultLogFile(config: ClusterConfig, command: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return join(config.stateDir, "logs", `${command}-${stamp}.log`);
}

export function openSession(
  config: ClusterConfig,
  flags: RunFlags & { ignorePreflightErrors?: string },
  command: string,
  /** false: the caller takes the lock itself (openChangingSession: on every master, this one included). */
  localLock = true,
): ClusterSession {
  const { bundleDir, depot } = runInputs(flags, config);
  const keep = keepLogs(flags as { keepLogs?: unknown });
  const logsDir = join(config.stateDir, "logs");
  // A read-only command run by a user who cannot write the state dir still works, without a default log.
  const noDefaultLog = !flags.logFile && !writable(logsDir);
  const logFile = flags.dryRun || noDefaultLog ? flags.logFile : (flags.logFile ?? defaultLogFile(config, command));
  const log = createLogger({ logFile, verbose: flags.verbose });
  if (noDefaultLog && !flags.dryRun) log.debug(`no log file: ${logsDir} is not writable by this user (give --log-file to keep one)`);
  setLogFile(logFile);
  // Each run of a command leaves one default log; the newest `keep` of that command stay.
  if (logFile && !flags.logFile) pruneLogs(logsDir, command, keep);
  const credentials = new CredentialResolver({ replicatedKey: join(config.stateDir, REPLICATED_KEY) });
  const pool = new HostPool({ config, log, credentials, notice: (m) => log.info(m) });
  // The acting master: the control-plane node this binary runs on (master1 normally; any surviving
  // master when master1 is gone, issue 16). Every master holds the installer state, a depot and kubectl.
  const master = actingMaster(config, pool);
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
  const self = config.hosts.find((h) => pool.isLocal(h))?.name;
  const release = localLock && CHANGING.has(command) && !flags.dryRun ? acquireRunLock(config.stateDir, command, self) : () => {};
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

/**
 * A session for a command that changes the cluster and its installer state (install, add-node,
 * renew-certs, remove-node): the run lock on every reachable master, a stale state on this master
 * refused (state-replica.ts), and `replicate` copying the state to every other master — called after
 * each finished phase, and by close() at the end. Dry runs are plain sessions.
 */
export async function openChangingSession(
  config: ClusterConfig,
  flags: RunFlags & { ignorePreflightErrors?: string },
  command: string,
  /**
   * add-node, renew-certs, replace-node: nodes that do not answer SSH at the start are left out of the
   * run (ctx.down) with a warning, so a dead master does not stop work on the living; the nodes named
   * in mustReach (the one being added or replaced) must answer. install leaves nobody out.
   */
  leaveOutDown?: { mustReach: string[] },
): Promise<ClusterSession & { replicate(): Promise<void> }> {
  const masters = controlPlanes(config);
  const amMaster = masters.some((h) => new HostPool({ config }).isLocal(h));
  // On a master its own lock is one of the cluster's, taken in config order with the others.
  const session = openSession(config, flags, command, !amMaster);
  if (flags.dryRun) return { ...session, replicate: async () => {} };
  const { pool, log, ctx } = session;
  const self = config.hosts.find((h) => pool.isLocal(h));
  const lockOn = (h: HostSpec) => ({ name: h.name, route: { address: h.address, port: h.ssh.port, user: h.ssh.user, keyFile: h.ssh.keyFile }, host: () => pool.get(h) });
  const peers = masters.filter((h) => h !== self).map(lockOn);
  const warn = (m: string) => log.info(m);
  let releaseCluster = async () => {};
  try {
    if (leaveOutDown) ctx.down = await downNodes(session, leaveOutDown.mustReach);
    const lockMasters = amMaster ? masters.map(lockOn) : peers;
    releaseCluster = await acquireClusterLock({ self: self?.name ?? ctx.local.name, masters: lockMasters, stateDir: config.stateDir, command, warn });
    await assertNewestState({ self: ctx.local, peers, stateDir: config.stateDir, warn: (m) => log.debug(m) });
  } catch (err) {
    await releaseCluster();
    await session.close();
    throw err;
  }
  const source = configPath(flags);
  // What each master was last seen holding in this run (we hold the cluster lock: nobody else writes it).
  const known = new Map<string, string>();
  const replicate = async () => {
    // Nothing to copy before the first phase made the state dir (a run that stopped at preflight).
    if (!existsSync(join(config.stateDir, "state.json"))) return;
    const r = await replicateState({ source: ctx.local, peers, stateDir: config.stateDir, files: collectState(config.stateDir, source, sshKeyToReplicate(config)), warn, known });
    if (r.updated.length) log.debug(`installer state generation ${r.generation} copied to ${r.updated.map((u) => u.node).join(", ")}`);
  };
  return {
    ...session,
    replicate,
    close: async () => {
      try {
        await replicate().catch((err) => warn(`warning: the installer state was not copied to the other masters: ${(err as Error).message}`));
        await releaseCluster();
      } finally {
        await session.close();
      }
    },
  };
}

/**
 * The nodes that do not answer SSH now (isUnreachable: no route, no answer — not a refused host key or
 * login, which stop the run). Each is named in a warning; a node in mustReach that is down stops the run.
 */
async function downNodes(session: ClusterSession, mustReach: string[]): Promise<Set<string>> {
  const { config, pool, log } = session;
  const probed = await Promise.all(
    config.hosts.map(async (h) => {
      try {
        await pool.get(h);
        return undefined;
      } catch (err) {
        if (!isUnreachable(err) || mustReach.includes(h.name)) throw err;
        return { h, why: reasonOn(h.name, err) };
      }
    }),
  );
  const down = probed.filter((p) => p !== undefined);
  // The master this runs on is never among them (it is worked on locally), so one master is always left.
  for (const { h, why } of down) log.info(`warning: ${h.name} is down (${why}): left out of this run; run install again when it is back`);
  return new Set(down.map(({ h }) => h.name));
}

/**
 * The SSH key the nodes were reached with (ssh.keyFile, when it is a file on this machine): part of the
 * replicated state, so another master reaches the nodes with it (CredentialResolver.replicatedKey).
 */
function sshKeyToReplicate(config: ClusterConfig): { path: string; file: string }[] {
  // One key for every node is the usual set-up; per-node keys are not copied (ssh-agent or -c on that master).
  const files = [...new Set(config.hosts.map((h) => h.ssh.keyFile).filter((f) => f !== undefined).map((f) => expandHome(f)))];
  const file = files.length === 1 ? files[0]! : undefined;
  return file && existsSync(file) ? [{ path: REPLICATED_KEY, file }] : [];
}

/** The control-plane node this machine is (by address), else master1 (the config's first). */
export function actingMaster(config: ClusterConfig, pool: Pick<HostPool, "isLocal">): HostSpec {
  return controlPlanes(config).find((h) => pool.isLocal(h)) ?? firstMaster(config);
}

/**
 * The installer state, kubectl and a depot are on every master (replicated after each phase): a
 * changing command runs on any of them, and nowhere else.
 */
export function requireOnMaster(config: ClusterConfig, command: string): void {
  const masters = controlPlanes(config);
  const pool = new HostPool({ config });
  if (!masters.some((m) => pool.isLocal(m)))
    throw new UsageError(
      `${command} runs on a control-plane node (${masters.map((m) => `${m.name} ${m.address}`).join(", ")}), and this machine has none of those addresses`,
      `copy the binary and the bundle to master1 (${masters[0]!.address}) and run it there; after the install, the binary on any master (/usr/local/bin/k8s-ha-offline) works too`,
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
