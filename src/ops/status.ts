// `status`: one look at the whole installed cluster — nodes, their services, etcd health per member,
// the VIP holder, every master's depot and Kubernetes' own view of its nodes. Read-only; every problem found
// is named, and any problem makes the cluster "degraded".
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import { controlPlanes, etcdMembers, firstMaster, hasRole } from "../config/types.ts";
import { reasonOn, type Host } from "../hosts/host.ts";
import { sh, shJoin } from "../util/sh.ts";
import { ADMIN_CONF, etcdClientUrl } from "../cluster/endpoints.ts";
import { etcdctl, etcdctlError } from "../cluster/etcd.ts";
import { kubectlCommand, nodeIsReady } from "../cluster/kubectl.ts";
import { vipHolders } from "./vip.ts";
import { depotCaStatePaths } from "../pki/depot-pki.ts";
import { NODE_DEPOT_CA } from "../depot/trust-paths.ts";
import { allDepots, depotUrl } from "../depot/endpoint.ts";
import { backupAge, type NodeBackupAge } from "./backup-schedule.ts";
import { MARKER_FILE } from "../phases/preflight/facts.ts";

export interface NodeStatus {
  name: string;
  address: string;
  roles: string[];
  reachable: boolean;
  error?: string;
  hostname?: string;
  /** false: the node has no install marker (MARKER_FILE): nothing of this installer is there. */
  installed?: boolean;
  /** unit name (without .service) → systemctl is-active's word: active, inactive, failed, ... */
  services: Record<string, string>;
}

export interface EtcdMemberStatus {
  name: string;
  endpoint: string;
  healthy: boolean;
  leader?: boolean;
  version?: string;
  error?: string;
}

export interface DepotStatus {
  /** The master that runs it. */
  node: string;
  url: string;
  ok: boolean;
  detail: string;
}

export interface StatusReport {
  cluster: string;
  healthy: boolean;
  nodes: NodeStatus[];
  etcd: EtcdMemberStatus[];
  vip: { address: string; holders: string[]; unknown: string[] };
  /** Every master's depot (master1's at depot.address first), each asked over TLS: losing one degrades, not breaks, the cluster. */
  depots: DepotStatus[];
  kubernetes: { checked: boolean; detail: string; nodes: { name: string; ready: boolean }[] };
  problems: string[];
  /** Reachable nodes with nothing of this installer on them; every node here = the cluster is not installed. */
  notInstalled?: string[];
  /** The newest backup on each master (backup --schedule); a stale one warns without degrading the cluster. */
  backups?: NodeBackupAge[];
}

export interface StatusSources {
  config: ClusterConfig;
  /** Connected Host for a node; rejects when the node cannot be reached. */
  host(spec: HostSpec): Promise<Host>;
  /**
   * Base URL of master1's depot (depot.address), e.g. https://192.168.217.19:5000. Optional: every depot,
   * this one included, comes from the config (allDepots); a given URL only replaces master1's.
   */
  depotUrl?: string;
  /** The depots to ask, each with the master that runs it (default: every master's, from the config). */
  depots?: { node: string; url: string }[];
  /** The depot CA (PEM) the depot is verified against, as every node does; see readDepotCa. Undefined: not found. */
  depotCa: string | undefined;
  /** Whether a node is the machine status runs on (its kubectl is asked first). */
  isLocal?(spec: HostSpec): boolean;
}

/** The depot CA on the machine status runs on: master1's state dir, else the copy every node keeps (NODE_DEPOT_CA). */
export async function readDepotCa(local: Host, stateDir: string): Promise<string | undefined> {
  for (const path of [depotCaStatePaths(stateDir).cert, NODE_DEPOT_CA]) {
    const b = await local.readFile(path).catch(() => null);
    if (b) return new TextDecoder().decode(b);
  }
  return undefined;
}

/** The services a node of these roles runs once the cluster is installed. */
export function expectedServices(config: ClusterConfig, node: HostSpec): string[] {
  // With docker the kubelet's runtime is docker (dockershim); containerd still runs under it (docker.service Requires= it).
  const units = [...(config.kubernetes.runtime === "docker" ? ["docker", "containerd"] : ["containerd"]), "kubelet"];
  if (hasRole(node, "etcd")) units.push("etcd");
  if (hasRole(node, "control-plane")) units.push("haproxy", "keepalived");
  return units;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).split("\n")[0]!.trim();
/** An etcd row when no member could be asked: one problem line for them all, not one per member. */
const NO_ETCD_RUNNER = "no etcd member reachable to ask from";

async function connect(sources: StatusSources, spec: HostSpec): Promise<Host | Error> {
  try {
    return await sources.host(spec);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

async function nodeStatus(config: ClusterConfig, spec: HostSpec, host: Host | Error): Promise<NodeStatus> {
  const base = { name: spec.name, address: spec.address, roles: spec.roles, services: {} as Record<string, string> };
  // The row already names the node: its own host error gives the reason alone.
  if (host instanceof Error) return { ...base, reachable: false, error: message(reasonOn(spec.name, host)) };
  const units = expectedServices(config, spec);
  // One round trip: hostname, then one is-active word per unit (is-active prints one even for unknown units).
  // The last word says whether the install marked the node: a fresh node is "not installed", not 16 problems.
  const marked = sh`if test -e ${MARKER_FILE}; then echo marked; else echo unmarked; fi`;
  const cmd = shJoin([sh`hostname`, ...units.map((u) => sh`systemctl is-active ${`${u}.service`}`), marked, sh`true`], "; ");
  try {
    const lines = (await host.exec(cmd, { timeoutMs: 15_000 })).stdout.trim().split("\n");
    const services = Object.fromEntries(units.map((u, i) => [u, lines[i + 1]?.trim() || "unknown"]));
    const installed = lines[units.length + 1]?.trim() !== "unmarked";
    return { ...base, reachable: true, hostname: lines[0]?.trim(), installed, services };
  } catch (err) {
    return { ...base, reachable: false, error: message(reasonOn(spec.name, err)) };
  }
}

async function etcdStatus(runner: Host, member: HostSpec): Promise<EtcdMemberStatus> {
  const endpoint = etcdClientUrl(member);
  const [health, status] = await Promise.all([
    runner.exec(etcdctl(member, sh`endpoint health -w json`), { check: false, timeoutMs: 20_000 }),
    runner.exec(etcdctl(member, sh`endpoint status -w json`), { check: false, timeoutMs: 20_000 }),
  ]);
  const out: EtcdMemberStatus = { name: member.name, endpoint, healthy: health.code === 0 };
  if (!out.healthy) out.error = etcdctlError(`${health.stdout}\n${health.stderr}`) ?? `etcdctl exited ${health.code}`;
  if (status.code === 0) {
    try {
      const s = (JSON.parse(status.stdout) as any[])[0]?.Status;
      out.version = s?.version;
      if (s?.header?.member_id !== undefined) out.leader = String(s.leader) === String(s.header.member_id);
    } catch {
      // status is extra detail; health decides
    }
  }
  return out;
}

async function depotStatus(node: string, url: string, ca: string | undefined): Promise<DepotStatus> {
  if (!ca) return { node, url: `${url}/v2/`, ok: false, detail: `no depot CA here (${NODE_DEPOT_CA} or the state dir's pki/depot-ca.crt): run status on master1 or a node after install` };
  try {
    const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(5_000), tls: { ca } });
    await res.arrayBuffer();
    return { node, url: `${url}/v2/`, ok: res.status === 200, detail: `HTTP ${res.status}` };
  } catch (err) {
    return { node, url: `${url}/v2/`, ok: false, detail: message(err) };
  }
}

async function kubernetesStatus(master1: Host | Error): Promise<StatusReport["kubernetes"]> {
  if (master1 instanceof Error) return { checked: false, detail: "no control-plane node reachable", nodes: [] };
  const has = await master1.exec(sh`test -f ${ADMIN_CONF}`, { check: false, timeoutMs: 10_000 }).catch(() => ({ code: 1 }));
  if (has.code !== 0) return { checked: false, detail: `not installed (no ${ADMIN_CONF} on ${master1.name})`, nodes: [] };
  const r = await master1
    .exec(kubectlCommand(sh`get nodes -o json --request-timeout=10s`), { check: false, timeoutMs: 20_000 })
    .catch((err) => ({ code: -1, stdout: "", stderr: message(err) }));
  if (r.code !== 0) return { checked: false, detail: `kubectl get nodes failed: ${(r.stderr || r.stdout).trim().split("\n")[0]}`, nodes: [] };
  try {
    const items = (JSON.parse(r.stdout) as { items: any[] }).items;
    const nodes = items.map((n) => ({
      name: String(n.metadata?.name),
      ready: nodeIsReady(n),
    }));
    return { checked: true, detail: `${nodes.filter((n) => n.ready).length}/${nodes.length} Ready`, nodes };
  } catch {
    return { checked: false, detail: "kubectl get nodes printed no JSON", nodes: [] };
  }
}

/** Everything that is not as an installed cluster should be, one line each. */
export function findProblems(config: ClusterConfig, r: Omit<StatusReport, "problems" | "healthy" | "notInstalled">): string[] {
  const problems: string[] = [];
  const bare = new Set(r.nodes.filter((n) => n.reachable && n.installed === false).map((n) => n.name));
  // A node with nothing installed is named once, and nothing that follows from it is listed.
  if (bare.size === r.nodes.length) return r.nodes.map((n) => `${n.name}: not installed`);
  for (const n of r.nodes) {
    if (!n.reachable) {
      problems.push(`${n.name}: unreachable (${n.error})`);
      continue;
    }
    if (bare.has(n.name)) {
      problems.push(`${n.name}: not installed (no ${MARKER_FILE}; add-node or install puts it there)`);
      continue;
    }
    if (n.hostname !== n.name) problems.push(`${n.name}: hostname is "${n.hostname}", expected "${n.name}"`);
    for (const [unit, state] of Object.entries(n.services)) if (state !== "active") problems.push(`${n.name}: ${unit} is ${state}`);
  }
  const unasked = r.etcd.length > 0 && r.etcd.every((m) => m.error === NO_ETCD_RUNNER);
  if (unasked) problems.push(`etcd: ${NO_ETCD_RUNNER}`);
  else for (const m of r.etcd) if (!m.healthy && !bare.has(m.name)) problems.push(`etcd member ${m.name} (${m.endpoint}) is unhealthy: ${m.error}`);
  if (r.etcd.length > 0 && !unasked && !r.etcd.some((m) => m.leader)) problems.push("etcd: no member reports being the leader");
  if (r.vip.holders.length === 0) problems.push(`VIP ${r.vip.address} is held by no control-plane node${r.vip.unknown.length ? ` (could not ask ${r.vip.unknown.join(", ")})` : ""}`);
  if (r.vip.holders.length > 1) problems.push(`VIP ${r.vip.address} is held by ${r.vip.holders.join(" and ")} at once (split brain: VRRP adverts do not reach each other)`);
  for (const d of r.depots) if (!d.ok) problems.push(`depot of ${d.node} ${d.url}: ${d.detail}`);
  if (!r.kubernetes.checked) problems.push(`kubernetes: ${r.kubernetes.detail}`);
  else
    for (const h of config.hosts) {
      const k = r.kubernetes.nodes.find((n) => n.name === h.name);
      if (!k) {
        if (!bare.has(h.name)) problems.push(`kubernetes: node ${h.name} is not registered`);
      }
      else if (!k.ready) problems.push(`kubernetes: node ${h.name} is NotReady`);
    }
  return problems;
}

/** Every master's depot, master1's first (at sources.depotUrl when given). */
function depotsToAsk(sources: StatusSources): { node: string; url: string }[] {
  return sources.depots ?? allDepots(sources.config).map((d, i) => ({ node: d.node, url: i === 0 && sources.depotUrl ? sources.depotUrl : depotUrl(d.endpoint) }));
}

export async function collectStatus(sources: StatusSources): Promise<StatusReport> {
  const { config } = sources;
  const hosts = await Promise.all(config.hosts.map((spec) => connect(sources, spec)));
  const hostOf = (spec: HostSpec) => hosts[config.hosts.indexOf(spec)]!;
  // kubectl from a master that answers: this one when it is a master, else the first that does (master1 may be gone).
  const kubectlHost = [...controlPlanes(config)].sort((a, b) => Number(sources.isLocal?.(b) ?? false) - Number(sources.isLocal?.(a) ?? false)).map(hostOf).find((h) => !(h instanceof Error)) ?? hostOf(firstMaster(config));
  const members = etcdMembers(config);
  // etcdctl runs where the healthcheck client certificate is: master1 when it is a member, else the first reachable member.
  const runner = [firstMaster(config), ...members].map((s) => (hasRole(s, "etcd") ? hostOf(s) : undefined)).find((h): h is Host => h !== undefined && !(h instanceof Error));
  const cps = controlPlanes(config).flatMap((s) => {
    const h = hostOf(s);
    return h instanceof Error ? [] : [{ name: s.name, host: h }];
  });
  const nodes = await Promise.all(config.hosts.map((spec) => nodeStatus(config, spec, hostOf(spec))));
  const bare = new Set(nodes.filter((n) => n.reachable && n.installed === false).map((n) => n.name));
  const notInstalled = (m: HostSpec): EtcdMemberStatus => ({ name: m.name, endpoint: etcdClientUrl(m), healthy: false, error: "not installed" });
  // etcdctl is not there before the install: no raw "etcdctl: not found", the member says "not installed".
  const runnerUsable = runner && !bare.has(runner.name);
  if (bare.size === nodes.length) {
    const report = {
      cluster: config.name,
      nodes,
      etcd: members.map(notInstalled),
      vip: { address: config.loadBalancer.vip, holders: [], unknown: [] },
      depots: depotsToAsk(sources).map((d) => ({ node: d.node, url: `${d.url}/v2/`, ok: false, detail: "not installed" })),
      kubernetes: { checked: false, detail: "not installed", nodes: [] },
    };
    return { ...report, healthy: false, problems: findProblems(config, report), notInstalled: [...bare] };
  }
  const [etcd, vip, depots, kubernetes, backups] = await Promise.all([
    runnerUsable
      ? Promise.all(members.map((m) => (bare.has(m.name) ? notInstalled(m) : etcdStatus(runner, m))))
      : Promise.resolve(members.map((m) => ({ name: m.name, endpoint: etcdClientUrl(m), healthy: false, error: NO_ETCD_RUNNER }))),
    vipHolders(cps, config.loadBalancer.vip),
    Promise.all(depotsToAsk(sources).map((d) => depotStatus(d.node, d.url, sources.depotCa))),
    kubernetesStatus(kubectlHost),
    Promise.all(cps.map((c) => backupAge(c.host, controlPlanes(config).find((s) => s.name === c.name)!, config.name).catch(() => ({ node: c.name })))),
  ]);
  const unreachableCps = controlPlanes(config).filter((s) => hostOf(s) instanceof Error).map((s) => s.name);
  const partial = { cluster: config.name, nodes, etcd, vip: { address: config.loadBalancer.vip, holders: vip.holders, unknown: [...unreachableCps, ...vip.unknown] }, depots, kubernetes };
  const problems = findProblems(config, partial);
  return { ...partial, healthy: problems.length === 0, problems, notInstalled: [...bare], backups };
}
