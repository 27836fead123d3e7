// The etcd snapshot of a backup: taken with `etcdctl snapshot save` from a healthy member over TLS,
// checked with `etcdctl snapshot status -w json` (etcd 3.4 has no etcdutl), and restored into a
// member's data directory with its own name and peer URL and a new cluster token.
import { createHash } from "node:crypto";
import type { Host } from "../hosts/host.ts";
import { sh, type ShellCommand } from "../util/sh.ts";
import { etcdctl, etcdctlError } from "../cluster/etcd.ts";
import { etcdPeerUrl } from "../cluster/endpoints.ts";
import type { SnapshotStatus } from "./backup-archive.ts";

/** Where the etcd phase installs etcdctl; the offline subcommands need no endpoint or certificate. */
export const ETCDCTL = "/usr/local/bin/etcdctl";
/** The data directory in etcd.service (assets/etcd/etcd.service): one constant for the cluster layer and the ops. */
export { ETCD_DATA_DIR } from "../cluster/etcd-members.ts";

/** etcdctl against a member over TLS: the cluster's (src/cluster/etcd.ts), or a test's. */
export type OnlineEtcdctl = (args: ShellCommand) => ShellCommand;

const offline = (args: ShellCommand) => sh`ETCDCTL_API=3 ${ETCDCTL} ${args}`;

/** Parses `etcdctl snapshot status -w json`: {"hash":…,"revision":…,"totalKey":…,"totalSize":…}. */
export function parseSnapshotStatus(out: string): Omit<SnapshotStatus, "member"> {
  const s = JSON.parse(out.trim().split("\n").filter((l) => l.startsWith("{")).pop() ?? "") as Record<string, unknown>;
  const num = (k: string) => {
    if (typeof s[k] !== "number") throw new Error(`no ${k} in etcdctl's snapshot status`);
    return s[k] as number;
  };
  return { hash: num("hash"), revision: num("revision"), totalKey: num("totalKey"), totalSize: num("totalSize") };
}

/**
 * `etcdctl snapshot save` appends the sha256 of the database to it; `snapshot restore` checks it, but
 * `snapshot status` reads only the pages it needs. Checking it here catches a changed byte anywhere.
 */
export function snapshotHashProblem(data: Uint8Array): string | undefined {
  if (data.length <= 32 + 4096) return `it is only ${data.length} bytes long (truncated)`;
  const body = data.subarray(0, data.length - 32);
  const want = Buffer.from(data.subarray(data.length - 32)).toString("hex");
  return createHash("sha256").update(body).digest("hex") === want ? undefined : "its content does not match the sha256 etcd appended when it saved it (changed or truncated)";
}

/** Status of a snapshot file on `host`; throws with etcdctl's reason when the file is not a sound snapshot. */
export async function snapshotStatus(host: Host, file: string): Promise<Omit<SnapshotStatus, "member">> {
  const r = await host.exec(offline(sh`snapshot status ${file} -w json`), { check: false, timeoutMs: 120_000 });
  if (r.code === 0)
    try {
      return parseSnapshotStatus(r.stdout);
    } catch {
      // fall through to the error below
    }
  throw new Error(`the etcd snapshot is damaged: etcdctl snapshot status says ${etcdctlError(`${r.stderr}\n${r.stdout}`) ?? `exit ${r.code}`}`);
}

/**
 * Saves a snapshot of the member behind `client` on `host`, reads it back and removes the node's copy.
 * The snapshot file is what `etcdctl snapshot save` wrote (with its integrity hash appended by etcd).
 */
export async function takeSnapshot(host: Host, client: OnlineEtcdctl, member: string): Promise<{ data: Uint8Array; status: SnapshotStatus }> {
  const dir = (await host.exec(sh`umask 077 && mktemp -d /tmp/k8s-ha-offline-snapshot.XXXXXX`)).stdout.trim();
  try {
    const file = `${dir}/snapshot.db`;
    const r = await host.exec(client(sh`snapshot save ${file}`), { check: false, timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`etcdctl snapshot save on ${member} failed: ${etcdctlError(`${r.stderr}\n${r.stdout}`) ?? `exit ${r.code}`}`);
    const status = { ...(await snapshotStatus(host, file)), member };
    const data = await host.readFile(file);
    if (!data) throw new Error(`${file} vanished on ${member} right after etcdctl wrote it`);
    const problem = snapshotHashProblem(data);
    if (problem) throw new Error(`the snapshot read back from ${member} is unusable: ${problem}`);
    return { data, status };
  } finally {
    await host.exec(sh`rm -rf ${dir}`, { check: false });
  }
}

export const takeClusterSnapshot = (host: Host, node: { name: string; address: string }) =>
  takeSnapshot(host, (args) => etcdctl(node, args), node.name);

export interface RestoreTarget {
  /** Member name (as in etcd.service's --name). */
  name: string;
  /** Its peer URL (--initial-advertise-peer-urls). */
  peerUrl: string;
}

/** --initial-cluster of the restored cluster: every member with its peer URL, as etcd.service has it. */
export const initialCluster = (members: readonly { name: string; address: string }[]) =>
  members.map((m) => `${m.name}=${etcdPeerUrl(m)}`).join(",");

/**
 * `etcdctl snapshot restore` into `dataDir` (which must not exist) for one member. The new cluster
 * token keeps members of the old cluster, should one still run, from joining the restored one.
 */
export async function restoreSnapshot(host: Host, file: string, dataDir: string, me: RestoreTarget, cluster: string, token: string): Promise<void> {
  const r = await host.exec(
    offline(sh`snapshot restore ${file} --name ${me.name} --initial-cluster ${cluster} --initial-cluster-token ${token} --initial-advertise-peer-urls ${me.peerUrl} --data-dir ${dataDir}`),
    { check: false, timeoutMs: 600_000 },
  );
  if (r.code !== 0) throw new Error(`etcdctl snapshot restore on ${host.name} failed: ${etcdctlError(`${r.stderr}\n${r.stdout}`) ?? `exit ${r.code}`}`);
}
