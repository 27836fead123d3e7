// How `status` prints its report: one table per concern, then the problems, then one verdict line.
import type { StatusReport } from "./status.ts";
import { textTable } from "./table.ts";
import { formatAge, type NodeBackupAge } from "./backup-schedule.ts";

/** One entry per master: the newest backup's age and the schedule, e.g. "master1 12 min (daily)". */
const renderBackups = (b: readonly NodeBackupAge[]) =>
  b.map((n) => `${n.node} ${n.ageSeconds === undefined ? "none" : formatAge(n.ageSeconds)}${n.schedule ? ` (${n.schedule})` : " (not scheduled)"}`).join(", ");

/** The cluster is not installed on any node it could reach (and it reached at least one). */
export const notInstalledAnywhere = (r: StatusReport) => (r.notInstalled?.length ?? 0) > 0 && r.notInstalled!.length === r.nodes.filter((n) => n.reachable).length && r.nodes.every((n) => n.reachable);

export function renderStatusTable(r: StatusReport): string {
  if (notInstalledAnywhere(r)) {
    // Nothing to tabulate: one line per node, each named once.
    const rows = r.nodes.map((n) => [n.name, n.address, n.roles.join(","), "not installed"]);
    return [`Cluster ${r.cluster}`, "", textTable(["NODE", "ADDRESS", "ROLES", "STATE"], rows), "", `status: NOT INSTALLED on ${r.nodes.map((n) => n.name).join(", ")} (run install)`].join("\n") + "\n";
  }
  const bare = new Set(r.notInstalled ?? []);
  const units = [...new Set(r.nodes.flatMap((n) => Object.keys(n.services)))];
  const nodeRows = r.nodes.map((n) => [
    n.name,
    n.address,
    n.roles.join(","),
    n.reachable ? "yes" : "NO",
    n.hostname ?? "-",
    ...units.map((u) => (bare.has(n.name) ? "not installed" : n.reachable ? (n.services[u] === undefined ? "-" : n.services[u] === "active" ? "active" : n.services[u]!.toUpperCase()) : "?")),
  ]);
  const etcdRows = r.etcd.map((m) => [m.name, m.endpoint, m.healthy ? "healthy" : "UNHEALTHY", m.leader ? "yes" : m.leader === false ? "no" : "-", m.version ?? "-", m.healthy ? "" : (m.error ?? "")]);
  const vip =
    r.vip.holders.length === 1 ? `held by ${r.vip.holders[0]}` : r.vip.holders.length === 0 ? "HELD BY NO NODE" : `HELD BY ${r.vip.holders.join(" AND ")} (split brain)`;
  const kube = r.kubernetes.checked
    ? `${r.kubernetes.detail} (${r.kubernetes.nodes.map((n) => `${n.name} ${n.ready ? "Ready" : "NotReady"}`).join(", ")})`
    : r.kubernetes.detail;
  const out = [
    `Cluster ${r.cluster}`,
    "",
    textTable(["NODE", "ADDRESS", "ROLES", "REACHABLE", "HOSTNAME", ...units], nodeRows),
    "",
    textTable(["ETCD MEMBER", "ENDPOINT", "HEALTH", "LEADER", "VERSION", "ERROR"], etcdRows),
    "",
    `VIP ${r.vip.address}: ${vip}`,
    ...r.depots.map((d) => `Depot of ${d.node} ${d.url}: ${d.ok ? "up" : "DOWN"} (${d.detail})`),
    `Kubernetes: ${kube}`,
  ];
  if (r.backups?.some((b) => b.schedule || b.newest)) out.push(`Backups: ${renderBackups(r.backups)}`);
  for (const b of r.backups ?? []) if (b.warning) out.push(`WARNING: ${b.warning}`);
  if (r.problems.length) out.push("", "Problems:", ...r.problems.map((p) => `  - ${p}`));
  const none = r.nodes.length > 0 && r.nodes.every((n) => !n.reachable);
  out.push("", r.healthy ? "status: healthy" : none ? "status: UNREACHABLE (no node answered; the problems above say why)" : `status: DEGRADED (${r.problems.length} problem${r.problems.length === 1 ? "" : "s"})`);
  return out.join("\n") + "\n";
}
