// `restore FILE`: disaster recovery onto the same nodes. Everything is checked before anything
// changes (the archive's manifest and snapshot, the cluster's name, each node's CAs against the
// archive's: another cluster's archive is refused). Then: control planes parked, etcd stopped, each
// member's data directory moved aside (kept, named with the time), the snapshot restored on every
// member with its own name and peer URL and a new cluster token, PKI files a node lost put back,
// etcd started on all members at once, control planes unparked, the API and the nodes awaited.
import { dirname } from "node:path";
import { controlPlanes, etcdMembers } from "../config/types.ts";
import type { ClusterAccess } from "../cluster/access.ts";
import { etcdHealthy } from "../cluster/etcd.ts";
import { apiserverUrl, etcdPeerUrl, vipUrl } from "../cluster/endpoints.ts";
import { readyAt, waitFor } from "../cluster/wait.ts";
import { nodeRows } from "../cluster/kubectl.ts";
import { sh } from "../util/sh.ts";
import { InstallError, errorText } from "../util/errors.ts";
import type { Logger } from "../util/log.ts";
import { SNAPSHOT, type OpenedArchive } from "./backup-archive.ts";
import { checkSnapshot, compareCas, nodeEntry, STATE_PREFIX, type CaComparison } from "./backup.ts";
import { ETCD_DATA_DIR, initialCluster, restoreSnapshot } from "./backup-snapshot.ts";
import { apiserverGone, parkManifests, unparkManifests } from "./renew-certs.ts";

/** Where the snapshot is copied on each member for the restore (removed afterwards). */
const STAGING = "/var/lib/k8s-ha-offline-restore";

export interface RestoreContext extends ClusterAccess {
  log: Logger;
}

/** Checks that change nothing; throws InstallError (exit 1) with every reason to refuse. */
export async function preflightRestore(ctx: RestoreContext, opened: OpenedArchive): Promise<{ snapshot: string; cas: CaComparison[] }> {
  if (opened.manifest.cluster !== ctx.config.name)
    throw new InstallError(`the archive is of cluster "${opened.manifest.cluster}", the config's is "${ctx.config.name}": refusing to restore another cluster's backup`);
  const cas = await compareCas(ctx, opened.manifest);
  const differs = cas.filter((c) => c.verdict === "differs");
  if (differs.length)
    throw new InstallError(
      `the archive's CAs are not this cluster's (it is another cluster's backup): ${differs.map((c) => `${c.node} ${c.path} (${c.detail})`).join("; ")}. Nothing was changed`,
    );
  const down = cas.filter((c) => c.verdict === "unreachable");
  if (down.length) throw new InstallError(`cannot reach ${[...new Set(down.map((c) => c.node))].join(", ")} (${down[0]!.detail}): restore needs every etcd member and master. Nothing was changed`);
  const snapshot = await checkSnapshot(ctx.local, opened);
  return { snapshot, cas };
}

/** The restore; throws with the step that failed and what was done before it. */
export async function restoreCluster(ctx: RestoreContext, opened: OpenedArchive, now = new Date()): Promise<void> {
  const stamp = now.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
  const token = `etcd-${ctx.config.name}-restored-${stamp.toLowerCase()}`;
  const members = etcdMembers(ctx.config);
  const masters = controlPlanes(ctx.config);
  const aside = `${ETCD_DATA_DIR}.before-restore-${stamp}`;
  const done: string[] = [];
  const step = async (name: string, fn: () => Promise<unknown>) => {
    const t = Date.now();
    ctx.log.info(`  ${name} ...`);
    try {
      await fn();
    } catch (e) {
      throw new InstallError(
        `restore stopped at "${name}": ${errorText(e)}\n` +
          (done.length ? `Done before that: ${done.join("; ")}.\n` : "") +
          `The etcd data from before the restore is kept in ${aside} on each member that had one. Fix the cause and run restore again.`,
      );
    }
    done.push(name);
    ctx.log.info(`  ${name}: done (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  };
  const each = <T extends { name: string }>(nodes: readonly T[], fn: (n: T, host: Awaited<ReturnType<ClusterAccess["host"]>>) => Promise<unknown>) =>
    Promise.all(nodes.map(async (n) => fn(n, await ctx.host(n as never))));

  await step("stop the control planes (park their static pod manifests)", () =>
    each(masters, async (m, host) => {
      await parkManifests(host);
      await waitFor(`the apiserver on ${m.name} to stop`, () => apiserverGone(host, m), 120_000, 1000);
    }),
  );
  await step("stop etcd on every member", () => each(members, (_m, host) => host.exec(sh`systemctl stop etcd.service`, { timeoutMs: 120_000 })));
  await step(`move each member's ${ETCD_DATA_DIR} aside to ${aside}`, () =>
    each(members, (_m, host) => host.exec(sh`[ ! -e ${ETCD_DATA_DIR} ] || mv ${ETCD_DATA_DIR} ${aside}`)),
  );
  await step("put back PKI and state files the nodes lost (never overwriting one that is there)", () => restoreMissingFiles(ctx, opened));
  const snapshot = opened.files.get(SNAPSHOT)!.data;
  await step(`restore the snapshot on ${members.map((m) => m.name).join(", ")} (new cluster token ${token})`, () =>
    each(members, async (m, host) => {
      await host.exec(sh`umask 077 && mkdir -p ${STAGING}`);
      await host.writeFile(`${STAGING}/snapshot.db`, snapshot, { mode: 0o600 });
      try {
        await restoreSnapshot(host, `${STAGING}/snapshot.db`, ETCD_DATA_DIR, { name: m.name, peerUrl: etcdPeerUrl(m) }, initialCluster(members), token);
        await host.exec(sh`chmod 700 ${ETCD_DATA_DIR}`);
      } finally {
        await host.exec(sh`rm -rf ${STAGING}`, { check: false });
      }
    }),
  );
  await step("start etcd on every member at once and wait for the cluster's health", async () => {
    await each(members, (_m, host) => host.exec(sh`systemctl start --no-block etcd.service`));
    await each(members, (m, host) => waitFor(`etcd on ${m.name} to be healthy with the whole cluster`, () => etcdHealthy(host, m, true), 180_000, 1000));
  });
  await step("bring the control planes back (unpark their manifests)", () =>
    each(masters, async (m, host) => {
      await unparkManifests(host);
      await waitFor(`the apiserver of ${m.name} at ${apiserverUrl(m)}/readyz`, () => readyAt(host, apiserverUrl(m)), 300_000, 2000);
    }),
  );
  await step(`wait for the API through the VIP (${vipUrl(ctx)})`, () => waitFor(`the VIP at ${vipUrl(ctx)}/readyz`, () => readyAt(ctx.local, vipUrl(ctx)), 120_000, 1000));
  await step("wait for every node to be Ready", () =>
    waitFor("every node Ready", async () => {
      const rows = await nodeRows(ctx);
      return rows.length >= ctx.config.hosts.length && rows.every((r) => r.ready);
    }, 300_000, 3000),
  );
}

/** Files of the archive (node PKI, installer state) a node no longer has are written back with their modes. */
export async function restoreMissingFiles(ctx: ClusterAccess, opened: OpenedArchive): Promise<string[]> {
  const written: string[] = [];
  for (const n of ctx.config.hosts) {
    const prefix = nodeEntry(n.name, "/");
    const mine = [...opened.files.values()].filter((f) => f.path.startsWith(prefix));
    if (!mine.length) continue;
    const host = await ctx.host(n);
    for (const f of mine) {
      const path = f.path.slice(prefix.length - 1);
      if (await host.readFile(path)) continue;
      await host.exec(sh`mkdir -p ${dirname(path)}`);
      await host.writeFile(path, f.data, { mode: f.mode });
      written.push(`${n.name}:${path}`);
    }
  }
  for (const f of opened.files.values()) {
    if (!f.path.startsWith(STATE_PREFIX)) continue;
    const path = `${ctx.stateDir}/${f.path.slice(STATE_PREFIX.length)}`;
    if (await ctx.local.readFile(path)) continue;
    await ctx.local.exec(sh`umask 077 && mkdir -p ${dirname(path)}`);
    await ctx.local.writeFile(path, f.data, { mode: f.mode });
    written.push(`${ctx.local.name}:${path}`);
  }
  return written;
}
