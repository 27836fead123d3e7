// `backup`: one archive of everything a lost cluster needs back — an etcd snapshot from a healthy
// member, every master's /etc/kubernetes/pki, every member's etcd PKI, the installer's state (with
// the etcd CA key, which exists nowhere else) and cluster.yaml — and `backup --verify` of one.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { HostSpec } from "../config/types.ts";
import { controlPlanes, etcdMembers, firstMaster } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import type { BundleLock } from "../depot/lock.ts";
import { serializeLock } from "../depot/lock.ts";
import type { ClusterAccess } from "../cluster/access.ts";
import { etcdHealthy } from "../cluster/etcd.ts";
import { ETCD_PKI_DIR } from "../pki/etcd-pki.ts";
import { sh } from "../util/sh.ts";
import { sha256Hex } from "../util/hash.ts";
import { InstallError } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { certFingerprint, packArchive, readTar, type ArchiveEntry, type BackupManifest, type OpenedArchive, SNAPSHOT } from "./backup-archive.ts";
import { snapshotHashProblem, snapshotStatus, takeClusterSnapshot } from "./backup-snapshot.ts";

export const KUBE_PKI_DIR = "/etc/kubernetes/pki";
/** Parts of the state directory a backup leaves out: run logs, backups themselves, and the run lock (a restored one would be stale). */
export const STATE_EXCLUDED = ["logs", "backups", "run.lock"];

/** The CAs whose fingerprints identify a cluster: name → where each node holds its certificate. */
export const CA_FILES: { name: string; path: string; on: "control-plane" | "etcd" }[] = [
  { name: "kubernetes", path: `${KUBE_PKI_DIR}/ca.crt`, on: "control-plane" },
  { name: "front-proxy", path: `${KUBE_PKI_DIR}/front-proxy-ca.crt`, on: "control-plane" },
  { name: "etcd", path: `${ETCD_PKI_DIR}/ca.crt`, on: "etcd" },
];

export interface BackupContext extends ClusterAccess {
  lock: BundleLock | null;
  log: Logger;
}

/** The archive path of a node's file. */
export const nodeEntry = (node: string, path: string) => `nodes/${node}${path}`;
export const STATE_PREFIX = "state/";
export const CONFIG_ENTRY = "cluster.yaml";

/** A directory of a node as archive entries (one tar over SSH; keys never in the log). */
async function pullDir(host: Host, dir: string, exclude: readonly string[] = []): Promise<{ path: string; data: Uint8Array; mode: number }[]> {
  const r = await host.exec(
    sh`[ ! -d ${dir} ] || tar -C ${dir} ${exclude.map((e) => `--exclude=./${e}`)} -cf - . | base64 -w0`,
    { secret: true, timeoutMs: 300_000 },
  );
  const packed = r.stdout.trim();
  if (!packed) return [];
  const files = await readTar(Buffer.from(packed, "base64"), `${dir} on ${host.name}`);
  return [...files].map(([rel, e]) => ({ path: `${dir}/${rel.replace(/^\.\//, "")}`, data: e.data, mode: e.mode }));
}

/** The first member that answers healthy (of `among`); the snapshot is taken from it. */
async function healthyMember(ctx: ClusterAccess, among: readonly HostSpec[]): Promise<{ spec: HostSpec; host: Host }> {
  const tried: string[] = [];
  for (const m of among) {
    try {
      const host = await ctx.host(m);
      if (await etcdHealthy(host, m)) return { spec: m, host };
      tried.push(`${m.name}: not healthy`);
    } catch (e) {
      tried.push(`${m.name}: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  throw new InstallError(`no etcd member answers healthy, so no snapshot can be taken (${tried.join("; ") || "no etcd member here"})`);
}

export const lockId = (lock: BundleLock) => sha256Hex(serializeLock(lock));

/**
 * Collects everything and returns the archive bytes and its manifest. With `thisNode` (the timer's
 * backup on a master) only that node is read: its member's snapshot, its PKI, the state if it has it.
 */
export async function makeBackup(ctx: BackupContext, passphrase?: string, now = new Date(), thisNode?: HostSpec): Promise<{ bytes: Uint8Array; manifest: BackupManifest }> {
  const only = (nodes: HostSpec[]) => (thisNode ? nodes.filter((n) => n.name === thisNode.name) : nodes);
  const entries: ArchiveEntry[] = [];
  const step = async <T>(what: string, fn: () => Promise<T>) => {
    const t = Date.now();
    const out = await fn();
    ctx.log.info(`  ${what} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    return out;
  };
  const member = await healthyMember(ctx, only(etcdMembers(ctx.config)));
  const snap = await step(`etcd snapshot from ${member.spec.name}`, () => takeClusterSnapshot(member.host, member.spec));
  entries.push({ path: SNAPSHOT, data: snap.data, mode: 0o600 });
  ctx.log.info(`    revision ${snap.status.revision}, ${snap.status.totalKey} keys, ${snap.status.totalSize} bytes, hash ${snap.status.hash}`);

  const pkiNodes = only([...new Map([...controlPlanes(ctx.config), ...etcdMembers(ctx.config)].map((h) => [h.name, h])).values()]);
  await step(`PKI of ${pkiNodes.map((n) => n.name).join(", ")}`, () =>
    Promise.all(
      pkiNodes.map(async (n) => {
        const host = await ctx.host(n);
        const dirs = [...(controlPlanes(ctx.config).includes(n) ? [KUBE_PKI_DIR] : []), ...(etcdMembers(ctx.config).includes(n) ? [ETCD_PKI_DIR] : [])];
        for (const d of dirs) for (const f of await pullDir(host, d)) entries.push({ path: nodeEntry(n.name, f.path), data: f.data, mode: f.mode });
      }),
    ),
  );
  await step(`installer state ${ctx.stateDir} and ${ctx.config.source}`, async () => {
    for (const f of await pullDir(ctx.local, ctx.stateDir, STATE_EXCLUDED)) entries.push({ path: `${STATE_PREFIX}${f.path.slice(ctx.stateDir.length + 1)}`, data: f.data, mode: f.mode });
    const cfg = await ctx.local.readFile(ctx.config.source);
    if (cfg) entries.push({ path: CONFIG_ENTRY, data: cfg, mode: 0o600 });
  });
  entries.sort((a, b) => (a.path === SNAPSHOT ? -1 : b.path === SNAPSHOT ? 1 : a.path.localeCompare(b.path)));

  const caFingerprints = caFingerprintsOf(new Map(entries.map((e) => [e.path, e])), ctx);
  return packArchive(
    {
      cluster: ctx.config.name,
      created: now.toISOString(),
      caFingerprints,
      lock: ctx.lock ? { id: lockId(ctx.lock), profile: ctx.lock.profile, kubernetesVersion: ctx.lock.kubernetesVersion } : undefined,
      snapshot: snap.status,
    },
    entries,
    passphrase,
  );
}

/** The CAs' fingerprints as the archive holds them (master1's copy; the etcd CA from the first member). */
export function caFingerprintsOf(files: Map<string, { data: Uint8Array }>, ctx: Pick<ClusterAccess, "config">): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ca of CA_FILES) {
    const holders = ca.on === "etcd" ? etcdMembers(ctx.config) : controlPlanes(ctx.config);
    const found = holders.map((h) => files.get(nodeEntry(h.name, ca.path))).find(Boolean);
    if (!found) throw new InstallError(`no node holds ${ca.path}: the ${ca.name} CA is missing, nothing to back up it with`);
    out[ca.name] = certFingerprint(new TextDecoder().decode(found.data));
  }
  return out;
}

/** Writes the archive 0600 through a temporary name in the same directory, fsynced, then renamed. */
export function writeArchive(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export const defaultArchiveName = (cluster: string, now: Date, encrypted: boolean) =>
  `k8s-ha-offline-backup-${cluster}-${now.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-")}.tar${encrypted ? ".enc" : ""}`;

export interface CaComparison {
  node: string;
  ca: string;
  path: string;
  /** match: same CA; missing: the node lost it (the archive's is restored); differs: another cluster's. */
  verdict: "match" | "missing" | "differs" | "unreachable";
  detail?: string;
}

/** Each node's CAs against the archive's fingerprints. */
export async function compareCas(ctx: ClusterAccess, manifest: BackupManifest): Promise<CaComparison[]> {
  const rows: CaComparison[] = [];
  await Promise.all(
    CA_FILES.flatMap((ca) =>
      (ca.on === "etcd" ? etcdMembers(ctx.config) : controlPlanes(ctx.config)).map(async (n) => {
        const row: CaComparison = { node: n.name, ca: ca.name, path: ca.path, verdict: "match" };
        try {
          const data = await (await ctx.host(n)).readFile(ca.path);
          if (!data) row.verdict = "missing";
          else {
            let fp = "";
            try {
              fp = certFingerprint(new TextDecoder().decode(data));
            } catch {
              fp = "unreadable";
            }
            if (fp !== manifest.caFingerprints[ca.name]) {
              row.verdict = "differs";
              row.detail = `node has ${fp.slice(0, 16)}…, archive ${String(manifest.caFingerprints[ca.name]).slice(0, 16)}…`;
            }
          }
        } catch (e) {
          row.verdict = "unreachable";
          row.detail = (e as Error).message.split("\n")[0];
        }
        rows.push(row);
      }),
    ),
  );
  return rows.sort((a, b) => a.node.localeCompare(b.node) || a.ca.localeCompare(b.ca));
}

/**
 * The snapshot's integrity, off the cluster: the hash etcd appended, then `etcdctl snapshot status`
 * on a copy (on master1, where etcdctl is) agreeing with the manifest.
 */
export async function checkSnapshot(local: Host, opened: OpenedArchive): Promise<string> {
  const data = opened.files.get(SNAPSHOT)!.data;
  const problem = snapshotHashProblem(data);
  if (problem) throw new InstallError(`the archive's etcd snapshot is damaged: ${problem}`);
  const dir = (await local.exec(sh`umask 077 && mktemp -d /tmp/k8s-ha-offline-verify.XXXXXX`)).stdout.trim();
  try {
    const file = `${dir}/snapshot.db`;
    await local.writeFile(file, data, { mode: 0o600 });
    const s = await snapshotStatus(local, file);
    const m = opened.manifest.snapshot;
    if (s.hash !== m.hash || s.revision !== m.revision || s.totalKey !== m.totalKey)
      throw new InstallError(`the archive's etcd snapshot is not the one its manifest describes (hash ${s.hash} vs ${m.hash}, revision ${s.revision} vs ${m.revision})`);
    return `revision ${s.revision}, ${s.totalKey} keys, hash ${s.hash}, from ${m.member}`;
  } finally {
    await local.exec(sh`rm -rf ${dir}`, { check: false });
  }
}
