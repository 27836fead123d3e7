// The cluster-wide view: CAs compared between nodes, one sorted table (or JSON/YAML), the exit code.
import { stringify } from "yaml";
import type { CertStatus } from "./inspect.ts";
import type { CertRow } from "./collect.ts";
import { sharedCas } from "../pki/certlist.ts";

export type OutputFormat = "table" | "json" | "yaml";

export interface CertReport {
  generatedAt: string;
  warnDays: number;
  /** 0 all ok, 1 something within warnDays, 2 something expired or broken. */
  exitCode: 0 | 1 | 2;
  summary: Record<CertStatus, number>;
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

const statusRank: Record<CertStatus, number> = { broken: 0, expired: 1, warn: 2, ok: 3 };

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

export function exitCodeOf(rows: CertRow[]): 0 | 1 | 2 {
  if (rows.some((r) => r.status === "expired" || r.status === "broken")) return 2;
  return rows.some((r) => r.status === "warn") ? 1 : 0;
}

export function buildReport(rows: CertRow[], warnDays: number, now = new Date()): CertReport {
  const summary: Record<CertStatus, number> = { ok: 0, warn: 0, expired: 0, broken: 0 };
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
  const nodes = new Set(rows.map((r) => r.node)).size;
  out.push(
    "",
    `${rows.length} certificates on ${nodes} nodes: ${s.ok} ok, ${s.warn} expiring within ${report.warnDays} days, ${s.expired} expired, ${s.broken} broken.`,
  );
  return out.join("\n") + "\n";
}

export function renderReport(report: CertReport, format: OutputFormat): string {
  if (format === "json") return JSON.stringify(report, null, 2) + "\n";
  if (format === "yaml") return stringify(report);
  return renderTable(report);
}
