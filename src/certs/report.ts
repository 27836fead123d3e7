// The cluster-wide view: CAs compared between nodes, one sorted table (or JSON/YAML), the exit code.
import { stringify } from "yaml";
import type { CertRow, RowStatus } from "./collect.ts";
import { sharedCas } from "../pki/certlist.ts";

export type OutputFormat = "table" | "json" | "yaml" | "prometheus";

/**
 * check-certs' exit codes (README and --help read them from src/cli/commands-meta.ts): 2 is every
 * command's "bad usage", so the certificates' verdicts keep clear of it.
 */
export const CERT_EXIT = { ok: 0, warn: 1, couldNotCheck: 3, expiredOrBroken: 4 } as const;
export type CertExitCode = (typeof CERT_EXIT)[keyof typeof CERT_EXIT];

export interface CertReport {
  generatedAt: string;
  warnDays: number;
  /** 0 all ok, 1 something within warnDays, 3 could not check (unreachable/missing), 4 expired or broken. */
  exitCode: CertExitCode;
  summary: Record<RowStatus, number>;
  certificates: CertRow[];
}

const short = (fp: string) => fp.slice(0, 16);

/**
 * Marks CA rows that differ from the CA most nodes have (ties: the first node's, i.e. master1's).
 * `nodeOrder` is the config's host order.
 */
export function flagDifferingCas(rows: CertRow[], nodeOrder: string[]): void {
  const rank = (node: string) => (nodeOrder.indexOf(node) + nodeOrder.length + 1) % (nodeOrder.length + 1);
  for (const group of sharedCas()) {
    const members = rows.filter((r) => group.paths.includes(r.certificate) && r.fingerprint).sort((a, b) => rank(a.node) - rank(b.node));
    const votes = new Map<string, CertRow[]>();
    for (const r of members) votes.set(r.fingerprint!, [...(votes.get(r.fingerprint!) ?? []), r]);
    if (votes.size < 2) continue;
    // Map iteration follows insertion, i.e. node order, so an equal count keeps the first node's CA.
    const [reference, holders] = [...votes.entries()].reduce((best, e) => (e[1].length > best[1].length ? e : best));
    const where = [...new Set(holders.map((h) => h.node))].join(", ");
    for (const r of members.filter((m) => m.fingerprint !== reference)) {
      r.problems.push(`${group.name} differs from the one on ${where} (sha256 ${short(r.fingerprint!)}… vs ${short(reference)}…)`);
      r.status = "broken";
    }
  }
}

const statusRank: Record<RowStatus, number> = { unreachable: 0, missing: 1, broken: 2, expired: 3, warn: 4, ok: 5 };

/** Least time left first; unreadable certificates (no date) before everything. */
export function sortRows(rows: CertRow[]): CertRow[] {
  return [...rows].sort(
    (a, b) =>
      (a.residualDays ?? -Infinity) - (b.residualDays ?? -Infinity) ||
      statusRank[a.status] - statusRank[b.status] ||
      a.node.localeCompare(b.node) ||
      a.certificate.localeCompare(b.certificate),
  );
}

/** The worst verdict wins: a known-bad certificate before a node that could not be checked. */
export function exitCodeOf(rows: CertRow[]): CertExitCode {
  if (rows.some((r) => r.status === "expired" || r.status === "broken")) return CERT_EXIT.expiredOrBroken;
  if (rows.some((r) => r.status === "unreachable" || r.status === "missing")) return CERT_EXIT.couldNotCheck;
  return rows.some((r) => r.status === "warn") ? CERT_EXIT.warn : CERT_EXIT.ok;
}

export function buildReport(rows: CertRow[], warnDays: number, now = new Date()): CertReport {
  const summary: Record<RowStatus, number> = { ok: 0, warn: 0, expired: 0, broken: 0, unreachable: 0, missing: 0 };
  for (const r of rows) summary[r.status]++;
  return { generatedAt: now.toISOString(), warnDays, exitCode: exitCodeOf(rows), summary, certificates: sortRows(rows) };
}

const expiresText = (iso: string | null) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : "-");

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [line(header), ...body.map(line)].join("\n");
}

export function renderTable(report: CertReport): string {
  const rows = report.certificates;
  const body = rows.map((r) => [
    r.node,
    r.certificate,
    r.subject,
    expiresText(r.notAfter),
    r.residualDays === null ? "-" : `${r.residualDays}d`,
    r.ca,
    r.status,
  ]);
  const out = [table(["NODE", "CERTIFICATE", "SUBJECT", "EXPIRES (UTC)", "RESIDUAL", "ISSUER/CA", "STATUS"], body)];
  const problems = rows.flatMap((r) => r.problems.map((p) => `  ${r.node} ${r.certificate}: ${p}`));
  if (problems.length > 0) out.push("", "Problems:", ...problems);
  const s = report.summary;
  const certs = rows.filter((r) => r.certificate !== "(node)");
  const nodes = new Set(certs.map((r) => r.node)).size;
  const unchecked = [s.unreachable && `${s.unreachable} node(s) unreachable`, s.missing && `${s.missing} node(s) without certificates`].filter(Boolean);
  out.push(
    "",
    `${certs.length} certificates on ${nodes} nodes: ${s.ok} ok, ${s.warn} expiring within ${report.warnDays} days, ${s.expired} expired, ${s.broken} broken.` +
      (unchecked.length ? ` NOT CHECKED: ${unchecked.join(", ")}.` : ""),
  );
  return out.join("\n") + "\n";
}

/** A Prometheus label value: backslash, double quote and newline escaped (exposition format). */
const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/**
 * node_exporter's textfile collector format: one expiry gauge per certificate, one "checked" gauge per
 * node (0 = unreachable or no certificates), and the exit code, so an alert can tell "expires" from
 * "could not look". Written to a .prom file by cron (docs/output.md).
 */
export function renderPrometheus(report: CertReport): string {
  const out: string[] = [];
  const metric = (name: string, help: string, type: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const certs = report.certificates.filter((r) => r.certificate !== "(node)");
  metric("k8s_ha_offline_cert_expiry_seconds", "Time of the certificate's notAfter, seconds since the epoch.", "gauge");
  for (const r of certs)
    if (r.notAfter) out.push(`k8s_ha_offline_cert_expiry_seconds{node="${label(r.node)}",path="${label(r.certificate)}",subject="${label(r.subject)}"} ${Math.floor(Date.parse(r.notAfter) / 1000)}`);
  metric("k8s_ha_offline_cert_ok", "1 when the certificate is ok or only expiring within --warn-days, 0 when expired or broken.", "gauge");
  for (const r of certs) out.push(`k8s_ha_offline_cert_ok{node="${label(r.node)}",path="${label(r.certificate)}",status="${r.status}"} ${r.status === "ok" || r.status === "warn" ? 1 : 0}`);
  metric("k8s_ha_offline_cert_node_checked", "1 when the node's certificates were read, 0 when it was unreachable or had none.", "gauge");
  const nodes = [...new Set(report.certificates.map((r) => r.node))].sort();
  for (const n of nodes) {
    const bad = report.certificates.find((r) => r.node === n && r.certificate === "(node)");
    out.push(`k8s_ha_offline_cert_node_checked{node="${label(n)}"${bad ? `,reason="${bad.status}"` : ""}} ${bad ? 0 : 1}`);
  }
  metric("k8s_ha_offline_cert_check_exit_code", "check-certs' exit code: 0 ok, 1 warn, 3 could not check, 4 expired or broken.", "gauge");
  out.push(`k8s_ha_offline_cert_check_exit_code ${report.exitCode}`);
  metric("k8s_ha_offline_cert_check_timestamp_seconds", "When check-certs ran.", "gauge");
  out.push(`k8s_ha_offline_cert_check_timestamp_seconds ${Math.floor(Date.parse(report.generatedAt) / 1000)}`);
  return out.join("\n") + "\n";
}

export function renderReport(report: CertReport, format: OutputFormat): string {
  if (format === "prometheus") return renderPrometheus(report);
  if (format === "json") return JSON.stringify(report, null, 2) + "\n";
  if (format === "yaml") return stringify(report);
  return renderTable(report);
}
