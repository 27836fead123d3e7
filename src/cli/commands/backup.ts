// `backup [-o FILE]` writes a verified archive of the cluster; `backup --verify FILE` checks one
// (manifest, snapshot, CAs against the running cluster's) and prints a table.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { openSession, parsePositiveInt } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { EXIT_FAILURE, UsageError, errorText } from "../../util/errors.ts";
import type { GlobalFlags } from "../flags.ts";
import { openArchive } from "../../ops/backup-archive.ts";
import { checkSnapshot, compareCas, defaultArchiveName, makeBackup, writeArchive } from "../../ops/backup.ts";
import { textTable } from "../../ops/table.ts";
import { describeSchedule, installSchedule, parseSchedule, pruneBackups } from "../../ops/backup-schedule.ts";

export interface BackupFlags extends GlobalFlags {
  output?: string;
  passphraseEnv?: string;
  verify?: string;
  schedule?: string;
  keep?: string | number;
  thisNode?: boolean;
}

/** The passphrase from the named environment variable (never from argv, where `ps` shows it). */
export function passphraseFrom(flags: { passphraseEnv?: string }): string | undefined {
  if (flags.passphraseEnv === undefined) return undefined;
  const name = String(flags.passphraseEnv);
  const v = process.env[name];
  if (!v) throw new UsageError(`--passphrase-env ${name}: the environment variable ${name} is unset or empty`, `export ${name}=... (the passphrase) before running, or leave out --passphrase-env`);
  return v;
}

/** Reads an archive file for --verify and restore: a missing or unreadable file is a usage error. */
export function readArchiveFile(file: unknown): { path: string; data: Uint8Array } {
  if (typeof file !== "string" || !file) throw new UsageError("which archive? give its path");
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError(`${path} does not exist`);
  return { path, data: readFileSync(path) };
}

export default async function backup(flags: BackupFlags): Promise<number> {
  const passphrase = passphraseFrom(flags);
  const config = readConfig(flags);
  const keep = flags.keep === undefined ? undefined : parsePositiveInt(flags.keep, "--keep");
  if (flags.schedule !== undefined) {
    const schedule = parseSchedule(flags.schedule);
    if (!schedule) throw new UsageError(`--schedule must be hourly or daily, got "${flags.schedule}"`);
    if (keep === undefined) throw new UsageError("--schedule needs --keep N: how many backups each master keeps");
    if (flags.dryRun) {
      console.log(`would install ${describeSchedule(config, schedule, keep)}`);
      return 0;
    }
    const session = openSession(config, flags, "backup-schedule");
    try {
      const text = await session.ctx.local.readFile(config.source);
      if (!text) throw new UsageError(`cannot read ${config.source}`);
      for (const line of await installSchedule(session.ctx, text, schedule, keep, passphrase)) session.log.info(line);
      return 0;
    } finally {
      await session.close();
    }
  }
  if (flags.verify !== undefined) {
    const { path, data } = readArchiveFile(flags.verify);
    const session = openSession(config, flags, "backup-verify");
    try {
      const rows: string[][] = [];
      let ok = true;
      const opened = await openArchive(data, path, passphrase);
      rows.push(["manifest", "ok", `${opened.files.size} files, cluster ${opened.manifest.cluster}, written ${opened.manifest.created}`]);
      if (opened.manifest.cluster !== config.name) {
        ok = false;
        rows.push(["cluster", "FAIL", `archive of "${opened.manifest.cluster}", config is "${config.name}"`]);
      }
      try {
        rows.push(["etcd snapshot", "ok", await checkSnapshot(session.ctx.local, opened)]);
      } catch (e) {
        ok = false;
        rows.push(["etcd snapshot", "FAIL", errorText(e)]);
      }
      for (const c of await compareCas(session.ctx, opened.manifest)) {
        const bad = c.verdict === "differs" || c.verdict === "unreachable";
        if (bad) ok = false;
        rows.push([`${c.ca} CA on ${c.node}`, c.verdict === "match" ? "ok" : c.verdict.toUpperCase(), c.detail ?? (c.verdict === "missing" ? `${c.path} absent on the node (restore would put the archive's back)` : c.path)]);
      }
      process.stdout.write(`${textTable(["CHECK", "RESULT", "DETAIL"], rows)}\n${ok ? "backup verified" : "backup FAILED verification"}: ${path}\n`);
      return ok ? 0 : EXIT_FAILURE;
    } finally {
      await session.close();
    }
  }
  const now = new Date();
  const name = defaultArchiveName(config.name, now, passphrase !== undefined);
  // -o DIR: the archive gets its default name in that directory (the timer's backups, --keep).
  const out = flags.output === undefined ? resolve(name) : existsSync(flags.output) && statSync(flags.output).isDirectory() ? join(resolve(flags.output), name) : resolve(flags.output);
  if (flags.dryRun) {
    console.log(`would write ${out}: etcd snapshot, the masters' and members' PKI, ${config.stateDir} (without logs/, backups/) and ${config.source}`);
    return 0;
  }
  // The timer's runs log to the journal; a log file in the state directory would create one on masters that have none.
  const session = openSession(config, flags.thisNode ? { ...flags, logFile: flags.logFile ?? "/dev/null" } : flags, "backup");
  try {
    const here = flags.thisNode ? config.hosts.find((h) => session.pool.isLocal(h)) : undefined;
    if (flags.thisNode && !here) throw new UsageError("--this-node: this machine has none of the config's addresses");
    session.log.info(`backup of ${config.name}${here ? ` (${here.name} only)` : ""}`);
    const { bytes, manifest } = await makeBackup({ ...session.ctx, log: session.log }, passphrase, now, here);
    writeArchive(out, bytes);
    session.log.info(`wrote ${out} (${bytes.length} bytes, ${manifest.files.length} files${passphrase ? ", encrypted" : ""}, etcd revision ${manifest.snapshot.revision})`);
    if (keep !== undefined) {
      const dropped = await pruneBackups(session.ctx.local, dirname(out), config.name, keep);
      if (dropped.length) session.log.info(`removed ${dropped.length} older backup(s), keeping the newest ${keep}`);
    }
    return 0;
  } finally {
    await session.close();
  }
}
