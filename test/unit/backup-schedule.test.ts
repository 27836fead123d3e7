// backup --schedule: the units each master gets, --keep's pruning, and the age status reports, on a
// DirHost master.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirHost } from "./support/dir-host.ts";
import { labCluster } from "./support/cluster-fixture.ts";
import { BACKUP_DIR, BACKUP_TIMER, backupAge, backupUnits, envFileContent, pruneBackups } from "../../src/ops/backup-schedule.ts";
import { renderStatusTable } from "../../src/ops/status-render.ts";

const root = mkdtempSync(join(tmpdir(), "backup-schedule-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const config = labCluster();
const host = new DirHost(root, "master2", "10.77.0.12");
const dir = join(root, BACKUP_DIR);

test("units: a oneshot backup of this master into the backup directory, a persistent timer", () => {
  const u = backupUnits("daily", 3, true);
  expect(u.service).toContain("ExecStart=/usr/local/bin/k8s-ha-offline backup --this-node --keep 3 -c /etc/k8s-ha-offline/backup-cluster.yaml -o /var/lib/k8s-ha-offline-backups --passphrase-env K8S_HA_OFFLINE_BACKUP_PASSPHRASE");
  expect(u.service).toContain("EnvironmentFile=/etc/k8s-ha-offline/backup.env");
  expect(u.timer).toContain("OnCalendar=daily\nPersistent=true");
  expect(backupUnits("hourly", 5, false).service).not.toMatch(/passphrase|EnvironmentFile/);
  expect(envFileContent('a"b\\c')).toBe('K8S_HA_OFFLINE_BACKUP_PASSPHRASE="a\\"b\\\\c"\n');
});

test("--keep 3 leaves the newest three of this cluster's archives, nothing else", async () => {
  mkdirSync(dir, { recursive: true });
  const names = [1, 2, 3, 4, 5].map((h) => `k8s-ha-offline-backup-lab-2026-12-01T0${h}-00-00Z.tar`);
  for (const n of [...names, "k8s-ha-offline-backup-prod-2026-01-01T00-00-00Z.tar", "notes.txt"]) writeFileSync(join(dir, n), "x");
  const dropped = await pruneBackups(host, BACKUP_DIR, "lab", 3);
  expect(dropped).toEqual(names.slice(0, 2));
  expect(readdirSync(dir).sort()).toEqual([...names.slice(2), "k8s-ha-offline-backup-prod-2026-01-01T00-00-00Z.tar", "notes.txt"].sort());
});

test("status: the newest backup's age; a warning when older than the schedule allows, or none at all", async () => {
  const now = Math.floor(Date.now() / 1000) * 1000; // stat prints whole seconds
  const newest = join(dir, "k8s-ha-offline-backup-lab-2026-12-01T05-00-00Z.tar");
  utimesSync(newest, new Date(now - 600_000), new Date(now - 600_000));
  for (const f of readdirSync(dir).filter((f) => f !== "k8s-ha-offline-backup-lab-2026-12-01T05-00-00Z.tar")) utimesSync(join(dir, f), new Date(now - 9e6), new Date(now - 9e6));
  let age = await backupAge(host, config.hosts[1]!, "lab", now);
  expect(age).toEqual({ node: "master2", schedule: undefined, newest: "k8s-ha-offline-backup-lab-2026-12-01T05-00-00Z.tar", ageSeconds: 600 });
  mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
  writeFileSync(join(root, "etc/systemd/system", BACKUP_TIMER), backupUnits("hourly", 3, false).timer);
  age = await backupAge(host, config.hosts[1]!, "lab", now + 3 * 3600_000);
  expect(age.schedule).toBe("hourly");
  expect(age.warning).toBe("master2: the newest backup is 3.2 h old, more than the hourly schedule allows");
  rmSync(dir, { recursive: true });
  expect((await backupAge(host, config.hosts[1]!, "lab", now)).warning).toBe("master2: backups are scheduled hourly but none is in /var/lib/k8s-ha-offline-backups");

  const report = { cluster: "lab", healthy: true, nodes: [], etcd: [], vip: { address: "10.77.0.100", holders: ["master1"], unknown: [] }, depots: [{ node: "master1", url: "u", ok: true, detail: "HTTP 200" }], kubernetes: { checked: false, detail: "x", nodes: [] }, problems: [] };
  const text = renderStatusTable({ ...report, backups: [{ node: "master1", schedule: "daily", ageSeconds: 720 }, { ...age, node: "master2" }] });
  expect(text).toContain("Backups: master1 12 min (daily), master2 3.2 h (hourly)");
  expect(text).toContain("WARNING: master2: the newest backup is 3.2 h old");
  expect(renderStatusTable(report)).not.toContain("Backups:");
});
