// etcd.service on a member: the unit as the config and the member's certificates want it, and how it
// is (re)started without costing quorum. The etcd phase installs it; renew-certs restarts members with it.
import type { HostSpec } from "../config/types.ts";
import { etcdMembers } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import { bytesSha256 } from "../hosts/sha256.ts";
import { ETCD_PKI_DIR } from "../pki/etcd-pki.ts";
import { render } from "../templates/render.ts";
import { sh } from "../util/sh.ts";
import unitTemplate from "../../assets/etcd/etcd.service" with { type: "text" };
import type { ClusterAccess } from "./access.ts";
import { etcdPeerUrl } from "./endpoints.ts";
import { etcdHealthy } from "./etcd.ts";
import { ensureService, installUnitFile, unitState } from "./systemd.ts";
import { waitFor } from "./wait.ts";
import { textOf } from "../util/text.ts";

export const ETCD_UNIT_FILE = "/etc/systemd/system/etcd.service";
/**
 * A member that joined a running cluster (etcd-members.ts prepareEtcdJoin) keeps here the initial
 * cluster etcd gave it: its unit says --initial-cluster-state=existing with that list, and keeps saying
 * it (etcd reads those flags only while the data directory is empty), so a re-run finds the same unit.
 * Absent: the member was made with the cluster (state new, every member of the config).
 */
export const ETCD_JOIN_RECORD = "/etc/etcd/initial-cluster";

/**
 * The unit for this member. It carries a fingerprint of the member's CA, server and peer
 * certificates, so new certificates make a different unit and thus a restart.
 */
export async function etcdUnit(ctx: Pick<ClusterAccess, "config">, host: Host, node: HostSpec): Promise<string> {
  const members = etcdMembers(ctx.config);
  // Read at once: one command (src/hosts/coalesce.ts).
  const [joinRecord, ...pki] = await Promise.all([ETCD_JOIN_RECORD, ...["ca.crt", "server.crt", "peer.crt"].map((f) => `${ETCD_PKI_DIR}/${f}`)].map(async (p) => textOf(await host.readFile(p))));
  const joined = joinRecord?.trim();
  return render(unitTemplate, {
    name: node.name,
    cluster: ctx.config.name,
    address: node.address,
    initialCluster: joined || members.map((m) => `${m.name}=${etcdPeerUrl(m)}`).join(","),
    initialClusterState: joined ? "existing" : "new",
    clusterToken: `etcd-${ctx.config.name}`,
    pkiFingerprint: bytesSha256(pki.map((p) => p ?? "").join("")).slice(0, 16),
  }, "etcd.service");
}

/** What prepareEtcdJoin decided, kept for the unit: the initial cluster of a join, or none (made with the cluster). */
export async function recordJoin(host: Host, initialCluster: string | undefined): Promise<void> {
  if (initialCluster) {
    // It goes into a unit's command line: name=URL pairs and nothing else.
    if (!/^[\w.-]*=[^\s,=]+(,[\w.-]*=[^\s,=]+)*$/.test(initialCluster)) throw new Error(`${host.name}: etcd gave an initial cluster that is not a list of name=URL: ${initialCluster}`);
    await host.exec(sh`mkdir -p /etc/etcd`);
    await host.writeFile(ETCD_JOIN_RECORD, `${initialCluster}\n`, { mode: 0o644 });
  } else await host.exec(sh`rm -f ${ETCD_JOIN_RECORD}`);
}

// Restarts of members that already run are made one at a time, each waiting for the whole cluster
// to be healthy again, so a changed unit or certificate never costs quorum.
let restartChain: Promise<void> = Promise.resolve();

/**
 * etcd.service as the config and the member's certificates want it: a running member whose unit
 * changed is restarted in turn with the others (renew-certs relies on this), a stopped one started.
 */
export async function applyEtcdService(ctx: Pick<ClusterAccess, "config">, host: Host, node: HostSpec): Promise<void> {
  await host.exec(sh`mkdir -p /var/lib/etcd && chmod 700 /var/lib/etcd`);
  const wasActive = (await unitState(host, "etcd.service")).active;
  const changed = await installUnitFile(host, ETCD_UNIT_FILE, await etcdUnit(ctx, host, node));
  if (wasActive && changed) {
    const turn = restartChain.then(async () => {
      await ensureService(host, "etcd.service", "restart");
      await waitFor(`etcd cluster health after restarting ${node.name}`, () => etcdHealthy(host, node, true), 90_000, 1000);
    });
    restartChain = turn.catch(() => undefined);
    await turn;
  } else {
    // First start: members wait for each other, so all of them start at once.
    await host.exec(sh`systemctl enable etcd.service && systemctl start --no-block etcd.service`);
  }
  await waitFor(`etcd on ${node.name} to be healthy with the whole cluster`, () => etcdHealthy(host, node, true), 120_000, 1000);
}
