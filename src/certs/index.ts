// check-certs: every certificate on every given node, judged, in one report with a monitoring exit code.
import type { ClusterConfig, Role } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import { expectedSans } from "../pki/certlist.ts";
import { collectCerts, type CertRow } from "./collect.ts";
import { buildReport, flagDifferingCas, renderReport, type CertExitCode, type OutputFormat } from "./report.ts";

export { collectCerts, type CertRow, type RowStatus, type CollectOptions, type ExpectedName } from "./collect.ts";
export { buildReport, flagDifferingCas, renderReport, sortRows, exitCodeOf, CERT_EXIT, type CertExitCode, type CertReport, type OutputFormat } from "./report.ts";
export { describeCert, firstCert, isSignedBy, keyMatches, parsePem, certStatus, residualDays, type CertInfo, type CertStatus } from "./inspect.ts";
export { kubeconfigCredentials } from "./kubeconfig.ts";

export interface CheckCertsInput {
  /** Connected hosts; each must be named as in the config. */
  hosts: Host[];
  config: ClusterConfig;
  /** Certificates with fewer days left are "warn" (exit 1). Default 30. */
  warnDays?: number;
  output?: OutputFormat;
  now?: Date;
  /** Nodes that could not be connected to, with why: each is an `unreachable` row (exit 3). */
  unreachable?: { node: string; error: string }[];
}

const errorOf = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!;

/** A row about a whole node rather than one certificate. */
const nodeRow = (node: string, status: "unreachable" | "missing", problem: string): CertRow => ({
  node,
  certificate: "(node)",
  subject: "",
  notAfter: null,
  residualDays: null,
  ca: "",
  status,
  problems: [problem],
  sans: [],
  serial: null,
  fingerprint: null,
});

export async function runCheckCerts(input: CheckCertsInput): Promise<{ text: string; exitCode: CertExitCode }> {
  const now = input.now ?? new Date();
  const warnDays = input.warnDays ?? 30;
  const perNode = await Promise.all(
    input.hosts.map(async (host) => {
      const spec = input.config.hosts.find((h) => h.name === host.name);
      if (!spec) return [nodeRow(host.name, "unreachable", `${host.name} is not a host of ${input.config.source}`)];
      const roles: Role[] = spec.roles;
      try {
        const rows = await collectCerts(host, roles, { now, warnDays, expectSans: expectedSans(input.config, spec) });
        // A control-plane or etcd node always has certificates: none at all is a finding, not "0 certificates, ok".
        return rows.length ? rows : [nodeRow(host.name, "missing", `no certificate found on ${host.name}, whose roles (${roles.join(", ")}) must have some: not installed?`)];
      } catch (e) {
        return [nodeRow(host.name, "unreachable", `cannot read the certificates: ${errorOf(e)}`)];
      }
    }),
  );
  const rows = [...(input.unreachable ?? []).map((u) => nodeRow(u.node, "unreachable", `cannot connect: ${u.error}`)), ...perNode.flat()];
  flagDifferingCas(rows, input.config.hosts.map((h) => h.name));
  const report = buildReport(rows, warnDays, now);
  return { text: renderReport(report, input.output ?? "table"), exitCode: report.exitCode };
}
