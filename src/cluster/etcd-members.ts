// etcd membership as a cluster operation: the members as etcd lists them (IDs, peer and client URLs,
// health), `member remove` and `member add` through members that answer, and the quorum arithmetic that
// refuses a change leaving the cluster without quorum. The etcd phase brings a fresh or wiped node into
// a running cluster with it (prepareEtcdJoin); replace-node removes a dead member with it.
//
// etcdctl runs on a node that holds the healthcheck client certificate (an etcd member), against the
// client URLs of the other members: no SSH to a member that may be dead.
import type { HostSpec } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import { InstallError } from "../util/errors.ts";
import { sh, type ShellCommand } from "../util/sh.ts";
import { ETCD_CLIENT_PORT } from "../config/ports.ts";
import { etcdClientUrl, etcdPeerUrl } from "./endpoints.ts";
import { ETCDCTL_DIAL_TIMEOUT_S, etcdctlAt, etcdctlError, etcdHealthy } from "./etcd.ts";

/** Where every member keeps its data (the unit's --data-dir); a member's own files are in member/. */
export const ETCD_DATA_DIR = "/var/lib/etcd";

export interface EtcdMember {
  /** Hex, as `member list -w table` prints it and `member remove` takes it (`-w json` gives it in decimal). */
  id: string;
  /** "" for a member added but never started: it publishes its name when it first runs. */
  name: string;
  peerUrls: string[];
  /** Empty until the member first ran. */
  clientUrls: string[];
  healthy: boolean;
  /** Why it is not healthy, in etcdctl's words. */
  error?: string;
}

export interface EtcdClusterView {
  members: EtcdMember[];
  /** The client URL that answered the member list. */
  askedAt: string;
}

/** Members needed for quorum in a cluster of n. */
export const quorumOf = (n: number) => Math.floor(n / 2) + 1;

const label = (m: EtcdMember) => m.name || `the unstarted member ${m.peerUrls[0] ?? m.id}`;
const timeouts = { check: false, timeoutMs: 30_000 } as const;

/**
 * `member list -w json` as members. The IDs are uint64: as JavaScript numbers they would lose their
 * low bits (and the member remove would name another member), so they are read as strings.
 */
export function parseMemberList(stdout: string): Omit<EtcdMember, "healthy" | "error">[] {
  const line = stdout.split("\n").find((l) => l.trim().startsWith("{"));
  if (!line) throw new Error(`etcdctl member list printed no JSON: ${stdout.trim().slice(0, 200)}`);
  const safe = line.replace(/("(?:ID|cluster_id|member_id)"\s*:\s*)(\d+)/g, '$1"$2"');
  const parsed = JSON.parse(safe) as { members?: { ID: string; name?: string; peerURLs?: string[]; clientURLs?: string[] }[] };
  return (parsed.members ?? []).map((m) => ({ id: BigInt(m.ID).toString(16), name: m.name ?? "", peerUrls: m.peerURLs ?? [], clientUrls: m.clientURLs ?? [] }));
}

/** `endpoint health -w json` of these client URLs, asked at once (etcdctl checks them concurrently). */
export async function endpointHealth(runner: Host, urls: readonly string[]): Promise<Map<string, { healthy: boolean; error?: string }>> {
  const out = new Map<string, { healthy: boolean; error?: string }>();
  if (!urls.length) return out;
  const r = await runner.exec(etcdctlAt(urls, sh`endpoint health -w json`), timeouts);
  const line = r.stdout.split("\n").find((l) => l.trim().startsWith("["));
  try {
    for (const e of JSON.parse(line ?? "") as { endpoint: string; health: boolean; error?: string }[]) out.set(e.endpoint, { healthy: e.health === true, ...(e.error ? { error: e.error } : {}) });
  } catch {
    // No JSON: etcdctl could not run at all; every URL carries its reason.
  }
  const why = etcdctlError(`${r.stdout}\n${r.stderr}`) ?? `etcdctl exited ${r.code}`;
  for (const u of urls) if (!out.has(u)) out.set(u, { healthy: false, error: why });
  return out;
}

/** The exit code of memberListAt's command when nothing accepts a connection at the URL's port. */
export const NOT_LISTENING_EXIT = 111;

/**
 * `member list` at one client URL, asked only once a TCP connection to it opens within etcdctl's own
 * dial timeout (ETCDCTL_DIAL_TIMEOUT_S). etcdctl retries a refused port until its command timeout: on a
 * fresh install every member asks every peer before any has started, which cost 5 s per peer, one after
 * the other, on the critical path of every cold install. A refused or unreachable port exits
 * NOT_LISTENING_EXIT at once.
 */
function memberListAt(url: string): ShellCommand {
  const { hostname, port } = new URL(url);
  const connect = 'exec 3<>"/dev/tcp/$0/$1"';
  return sh`timeout ${ETCDCTL_DIAL_TIMEOUT_S} bash -c ${connect} ${hostname.replace(/^\[|\]$/g, "")} ${port || ETCD_CLIENT_PORT} 2>/dev/null || exit ${NOT_LISTENING_EXIT}; ${etcdctlAt([url], sh`member list -w json`)}`;
}

/** The member list from the first of these client URLs that answers, each member with its health; undefined when none answers. */
export async function etcdView(runner: Host, askAt: readonly string[]): Promise<EtcdClusterView | undefined> {
  for (const url of askAt) {
    const r = await runner.exec(memberListAt(url), timeouts);
    if (r.code !== 0) continue;
    const listed = parseMemberList(r.stdout);
    const health = await endpointHealth(runner, listed.flatMap((m) => m.clientUrls.slice(0, 1)));
    const members = listed.map((m) => {
      const h = m.clientUrls[0] ? health.get(m.clientUrls[0]) : { healthy: false, error: "never started" };
      return { ...m, healthy: h?.healthy ?? false, ...(h?.error ? { error: h.error } : {}) };
    });
    return { members, askedAt: url };
  }
  return undefined;
}

/** The member that is this node: by peer URL (what etcd knows it by), else by name. */
export const memberOf = (view: EtcdClusterView, node: Pick<HostSpec, "name" | "address">) =>
  view.members.find((m) => m.peerUrls.includes(etcdPeerUrl(node))) ?? view.members.find((m) => m.name === node.name);

/**
 * Why removing `target` must not happen, or undefined: etcd has no quorum now, or the members left
 * would have fewer healthy ones than their own quorum ((n-1)/2+1 of n-1) — which also covers a healthy
 * target whose removal the rest cannot carry.
 */
export function removalRefusal(members: readonly EtcdMember[], target: EtcdMember): string | undefined {
  const n = members.length;
  const healthy = members.filter((m) => m.healthy).length;
  const down = members.filter((m) => !m.healthy).map(label);
  if (healthy < quorumOf(n)) return `etcd has no quorum: ${healthy} of ${n} members are healthy, ${quorumOf(n)} are needed (not healthy: ${down.join(", ")}); no member can be removed without quorum`;
  const rest = n - 1;
  if (rest === 0) return `${label(target)} is the only etcd member`;
  const healthyRest = healthy - (target.healthy ? 1 : 0);
  if (healthyRest < quorumOf(rest))
    return `removing ${target.healthy ? "the healthy member " : ""}${label(target)} would leave ${healthyRest} healthy of ${rest} members, fewer than their quorum of ${quorumOf(rest)}: etcd would stop (not healthy now: ${down.join(", ") || "none"})`;
  return undefined;
}

/** Why adding a member now must not happen: the new member count's quorum needs more healthy members than there are. */
export function additionRefusal(members: readonly EtcdMember[]): string | undefined {
  const healthy = members.filter((m) => m.healthy).length;
  const q = quorumOf(members.length + 1);
  if (healthy < q)
    return `adding a member makes ${members.length + 1} members with a quorum of ${q}, and only ${healthy} are healthy (not healthy: ${members.filter((m) => !m.healthy).map(label).join(", ")}): etcd would stop until the new member runs`;
  return undefined;
}

const healthyUrls = (view: EtcdClusterView) => view.members.filter((m) => m.healthy).flatMap((m) => m.clientUrls.slice(0, 1));

/** `member remove` of `target` through the healthy members, refused (nothing changed) when it would cost quorum. */
export async function removeMember(runner: Host, view: EtcdClusterView, target: EtcdMember): Promise<void> {
  const refusal = removalRefusal(view.members, target);
  if (refusal) throw new InstallError(`etcd member ${label(target)} (${target.id}) was not removed: ${refusal}. Bring the members that are down back first (status shows them)`);
  const r = await runner.exec(etcdctlAt(healthyUrls(view), sh`member remove ${target.id}`), timeouts);
  if (r.code !== 0) throw new InstallError(`etcdctl member remove ${target.id} (${label(target)}) failed on ${runner.name}: ${etcdctlError(`${r.stdout}\n${r.stderr}`) ?? `exit ${r.code}`}`);
}

/** `member add NAME --peer-urls=URL` through the healthy members; returns the initial cluster etcd gives the new member. */
export async function addMember(runner: Host, view: EtcdClusterView, name: string, peerUrl: string, retryMs = ADD_RETRY_MS): Promise<string> {
  const refusal = additionRefusal(view.members);
  if (refusal) throw new InstallError(`etcd member ${name} was not added: ${refusal}. Bring the members that are down back first (status shows them)`);
  // etcd's strict reconfiguration check refuses a member add ("unhealthy cluster") until every member has
  // been connected for 5 s (its HealthInterval): right after a member came back or another was removed.
  // That refusal changes nothing, so it is asked again for a while.
  const deadline = Date.now() + retryMs;
  for (;;) {
    const r = await runner.exec(etcdctlAt(healthyUrls(view), sh`member add ${name} ${`--peer-urls=${peerUrl}`}`), timeouts);
    const initial = /^ETCD_INITIAL_CLUSTER="([^"]*)"$/m.exec(r.stdout)?.[1];
    if (r.code === 0 && initial) return initial;
    const output = `${r.stdout}\n${r.stderr}`;
    const late = Date.now() > deadline;
    if (!/unhealthy cluster/.test(output) || late)
      throw new InstallError(`etcdctl member add ${name} failed on ${runner.name}: ${etcdctlError(output) ?? `exit ${r.code}`}${late ? ` (asked for ${Math.round(retryMs / 1000)} s)` : ""}`);
    await Bun.sleep(1000);
  }
}

/** How long a member add refused by etcd's strict reconfiguration check ("unhealthy cluster") is retried. */
const ADD_RETRY_MS = 60_000;

/** How the etcd phase starts a member. */
export type EtcdJoin =
  /** No member answers: the cluster is made now, every member with --initial-cluster-state=new. */
  | { kind: "bootstrap" }
  /** The node is a member and has its data: etcd starts from it (its initial-cluster flags are ignored). */
  | { kind: "member" }
  /** The node joins the running cluster: --initial-cluster-state=existing with etcd's initial cluster. */
  | { kind: "join"; initialCluster: string; did: string };

export interface JoinInput {
  /** The node, connected (its etcdctl and client certificate are installed). */
  host: Host;
  node: HostSpec;
  /** Every etcd member of the config. */
  members: readonly HostSpec[];
  /** For the name a data directory of a removed member is moved aside to. */
  now?: Date;
}

/**
 * What this member needs before it starts, done: a fresh or wiped node joining a running cluster is
 * added first (`member add` through a healthy member); a member listed by etcd whose data directory is
 * gone (a wiped disk: same name and peer URL) is removed and added again; the data of a member etcd no
 * longer lists is moved aside (never deleted). With no member answering it is a new cluster; with
 * members answering but none healthy, an empty member is refused.
 */
export async function prepareEtcdJoin(input: JoinInput): Promise<EtcdJoin> {
  const { host, node } = input;
  const others = input.members.filter((m) => m.name !== node.name);
  const hasData = (await host.exec(sh`test -d ${`${ETCD_DATA_DIR}/member`}`, { check: false })).code === 0;
  const view = others.length ? await etcdView(host, others.map(etcdClientUrl)) : undefined;
  const me = view && memberOf(view, node);
  const othersHealthy = view?.members.some((m) => m.healthy && m !== me);
  if (!view || !othersHealthy) {
    if (hasData) return { kind: "member" };
    // A member answers its list only once its cluster has run (etcd serves clients after its first
    // quorum): a cluster exists, without quorum now. An empty member joining it would vote with no log.
    if (view)
      throw new InstallError(
        `${node.name}: its etcd has no data (${ETCD_DATA_DIR}/member is missing) and no other member answers with quorum (${view.askedAt} answers without it); ` +
          "it is not started as a new member (an empty member would vote in a cluster whose data the others hold). Bring the other members back and run again, or restore from a backup",
      );
    return { kind: "bootstrap" };
  }
  if (me && hasData) return { kind: "member" };
  const peer = etcdPeerUrl(node);
  // Added before (this run was interrupted, or a fresh install's late member): it joins as that member.
  if (me && me.clientUrls.length === 0 && me.peerUrls.includes(peer)) {
    const initialCluster = view.members.map((m) => `${m === me ? node.name : m.name}=${m.peerUrls[0]}`).join(",");
    return { kind: "join", initialCluster, did: `joins the running cluster as the member added before (${me.id}, never started)` };
  }
  // A crash-looping etcd must not make a data directory under what comes next.
  await host.exec(sh`systemctl stop etcd.service >/dev/null 2>&1 || true`, { check: false });
  let current = view;
  let did: string;
  if (me) {
    if (me.healthy) throw new InstallError(`${node.name}: etcd lists it as member ${me.id}, healthy at ${me.clientUrls[0]}, but ${ETCD_DATA_DIR}/member is missing here: nothing was changed; check which machine answers at ${node.address}`);
    await removeMember(host, view, me);
    current = { ...view, members: view.members.filter((m) => m !== me) };
    did = `had lost its data (member ${me.id}): removed from etcd and added again`;
  } else if (hasData) {
    if (await etcdHealthy(host, node))
      throw new InstallError(`${node.name}: its etcd answers healthy at ${etcdClientUrl(node)}, but etcd lists no member named ${node.name} or with the peer URL ${peer}: nothing was changed; compare \`etcdctl member list\` with ${node.name}'s name and address in the config`);
    const aside = `${ETCD_DATA_DIR}.removed-${(input.now ?? new Date()).toISOString().replace(/[:.]/g, "-")}`;
    await host.exec(sh`mv ${ETCD_DATA_DIR} ${aside} && mkdir -m 700 ${ETCD_DATA_DIR}`);
    did = `was no longer a member: its old data moved to ${aside}, added to etcd`;
  } else did = "added to the running cluster (member add)";
  const initialCluster = await addMember(host, current, node.name, peer);
  return { kind: "join", initialCluster, did };
}
