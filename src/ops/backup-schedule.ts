// `backup --schedule hourly|daily --keep N`: a systemd timer on every master runs this binary's
// `backup --this-node` into BACKUP_DIR on that master and keeps the newest N. On master1 a timer
// backup is whole (its state holds the etcd CA key); on the other masters it holds the etcd snapshot
// of their own member and their own PKI, so a backup survives the loss of master1.
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import { controlPlanes } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import type { ClusterAccess } from "../cluster/access.ts";
import { installUnitFile } from "../cluster/systemd.ts";
import { NODE_ETC_DIR } from "../depot/trust-paths.ts";
import { sh } from "../util/sh.ts";
import { systemdArg } from "../util/systemd-escape.ts";

export const BACKUP_DIR = "/var/lib/k8s-ha-offline-backups";
export const BACKUP_SERVICE = "k8s-ha-offline-backup.service";
export const BACKUP_TIMER = "k8s-ha-offline-backup.timer";
/** The config the timer's backup reads on each master (a copy of cluster.yaml, 0600). */
export const SCHEDULE_CONFIG = `${NODE_ETC_DIR}/backup-cluster.yaml`;
/** The passphrase for the timer's backups, when there is one (0600; systemd reads it into the environment). */
export const SCHEDULE_ENV = `${NODE_ETC_DIR}/backup.env`;
export const PASSPHRASE_VAR = "K8S_HA_OFFLINE_BACKUP_PASSPHRASE";
const NODE_BINARY = "/usr/local/bin/k8s-ha-offline";

export type Schedule = "hourly" | "daily";
/** How old the newest backup may be before status warns: the interval and an hour of slack (timer delay, a slow backup). */
export const MAX_AGE_SECONDS: Record<Schedule, number> = { hourly: 2 * 3600, daily: 25 * 3600 };

export function parseSchedule(v: unknown): Schedule | undefined {
  return v === "hourly" || v === "daily" ? v : undefined;
}

export function backupUnits(schedule: Schedule, keep: number, encrypted: boolean): { service: string; timer: string } {
  const args = ["backup", "--this-node", "--keep", String(keep), "-c", SCHEDULE_CONFIG, "-o", BACKUP_DIR, ...(encrypted ? ["--passphrase-env", PASSPHRASE_VAR] : [])];
  const service = [
    "# Written by k8s-ha-offline backup --schedule: one backup of this master into " + BACKUP_DIR + ".",
    "[Unit]",
    "Description=k8s-ha-offline backup of this master",
    "After=network-online.target etcd.service",
    "",
    "[Service]",
    "Type=oneshot",
    "UMask=0077",
    ...(encrypted ? [`EnvironmentFile=${SCHEDULE_ENV}`] : []),
    `ExecStart=${NODE_BINARY} ${args.map(systemdArg).join(" ")}`,
    "",
  ].join("\n");
  const timer = [
    `# Written by k8s-ha-offline backup --schedule ${schedule} --keep ${keep}.`,
    "[Unit]",
    "Description=k8s-ha-offline backup of this master, " + schedule,
    "",
    "[Timer]",
    `OnCalendar=${schedule}`,
    "Persistent=true",
    "RandomizedDelaySec=120",
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
  return { service, timer };
}

/** The environment file systemd reads: one assignment, the value double-quoted with \ and " escaped. */
export const envFileContent = (passphrase: string) => `${PASSPHRASE_VAR}="${passphrase.replace(/[\\"]/g, "\\$&").replace(/\n/g, "\\n")}"\n`;

export async function installSchedule(ctx: ClusterAccess, configText: Uint8Array, schedule: Schedule, keep: number, passphrase?: string): Promise<string[]> {
  const units = backupUnits(schedule, keep, passphrase !== undefined);
  return Promise.all(
    controlPlanes(ctx.config).map(async (m) => {
      const host = await ctx.host(m);
      await host.exec(sh`mkdir -p ${BACKUP_DIR} ${NODE_ETC_DIR} && chmod 700 ${BACKUP_DIR}`);
      await host.writeFile(SCHEDULE_CONFIG, configText, { mode: 0o600 });
      if (passphrase !== undefined) await host.writeFile(SCHEDULE_ENV, envFileContent(passphrase), { mode: 0o600 });
      else await host.exec(sh`rm -f ${SCHEDULE_ENV}`);
      await installUnitFile(host, `/etc/systemd/system/${BACKUP_SERVICE}`, units.service);
      await installUnitFile(host, `/etc/systemd/system/${BACKUP_TIMER}`, units.timer);
      await host.exec(sh`systemctl enable ${BACKUP_TIMER} >/dev/null 2>&1 && systemctl restart ${BACKUP_TIMER}`);
      return `${m.name}: ${BACKUP_TIMER} ${schedule}, keeps ${keep} in ${BACKUP_DIR}`;
    }),
  );
}

/** Removes all but the newest `keep` archives of this cluster in `dir` (the names sort by time). */
export async function pruneBackups(host: Host, dir: string, cluster: string, keep: number): Promise<string[]> {
  const r = await host.exec(sh`ls -1 ${dir}`, { check: false });
  const mine = r.stdout.split("\n").filter((f) => f.startsWith(`k8s-ha-offline-backup-${cluster}-`) && /\.tar(\.enc)?$/.test(f)).sort();
  const drop = mine.slice(0, Math.max(0, mine.length - keep));
  if (drop.length) await host.exec(sh`cd ${dir} && rm -f -- ${drop}`);
  return drop;
}

export interface NodeBackupAge {
  node: string;
  schedule?: Schedule;
  newest?: string;
  ageSeconds?: number;
  /** Set when a schedule exists and its newest backup is missing or too old. */
  warning?: string;
}

/** The newest backup on one master and whether its schedule is kept (one round trip). */
export async function backupAge(host: Host, node: HostSpec, cluster: string, now = Date.now()): Promise<NodeBackupAge> {
  const r = await host.exec(
    sh`sed -n 's|^OnCalendar=||p' ${`/etc/systemd/system/${BACKUP_TIMER}`} 2>/dev/null; echo ---; cd ${BACKUP_DIR} 2>/dev/null && for f in ${`k8s-ha-offline-backup-${cluster}-`}*.tar*; do [ -f "$f" ] && echo "$(stat -c %Y "$f") $f"; done; true`,
    { check: false, timeoutMs: 15_000 },
  );
  const [head = "", list = ""] = r.stdout.split("---\n");
  const schedule = parseSchedule(head.trim());
  const newest = list.split("\n").filter(Boolean).map((l) => l.split(" ")).sort((a, b) => Number(b[0]) - Number(a[0]))[0];
  const out: NodeBackupAge = { node: node.name, schedule };
  if (newest) Object.assign(out, { newest: newest[1], ageSeconds: Math.max(0, Math.round(now / 1000 - Number(newest[0]))) });
  if (schedule && out.ageSeconds === undefined) out.warning = `${node.name}: backups are scheduled ${schedule} but none is in ${BACKUP_DIR}`;
  else if (schedule && out.ageSeconds! > MAX_AGE_SECONDS[schedule])
    out.warning = `${node.name}: the newest backup is ${formatAge(out.ageSeconds!)} old, more than the ${schedule} schedule allows`;
  return out;
}

export function formatAge(s: number): string {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

export const describeSchedule = (config: ClusterConfig, schedule: Schedule, keep: number) =>
  `${BACKUP_TIMER} (${schedule}) on ${controlPlanes(config).map((m) => m.name).join(", ")}: each runs \`k8s-ha-offline backup --this-node\` into ${BACKUP_DIR} and keeps the newest ${keep}`;
