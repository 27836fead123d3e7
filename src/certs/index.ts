// check-certs: every certificate on every given node, judged, in one report with a monitoring exit code.
import type { ClusterConfig, Role } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import { expectedSans } from "../pki/certlist.ts";
import { collectCerts, type CertRow } from "./collect.ts";
import { buildReport, flagDifferingCas, renderReport, type OutputFormat } from "./report.ts";

export { collectCerts, type CertRow, type CollectOptions, type ExpectedName } from "./collect.ts";
export { buildReport, flagDifferingCas, renderReport, sortRows, exitCodeOf, type CertReport, type OutputFormat } from "./report.ts";
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
}

const unreadable = (node: string, e: unknown): CertRow => ({
  node,
  certificate: "(node)",
  subject: "",
  notAfter: null,
  residualDays: null,
  ca: "",
  status: "broken",
  problems: [`cannot read the certificates: ${e instanceof Error ? e.message : String(e)}`],
  sans: [],
  serial: null,
  fingerprint: null,
});

export async function runCheckCerts(input: CheckCertsInput): Promise<{ text: string; exitCode: 0 | 1 | 2 }> {
  const now = input.now ?? new Date();
  const warnDays = input.warnDays ?? 30;
  const perNode = await Promise.all(
    input.hosts.map(async (host) => {
      const spec = input.config.hosts.find((h) => h.name === host.name);
      if (!spec) return [unreadable(host.name, new Error(`${host.name} is not a host of ${input.config.source}`))];
      const roles: Role[] = spec.roles;
      try {
        return await collectCerts(host, roles, { now, warnDays, expectSans: expectedSans(input.config, spec) });
      } catch (e) {
        return [unreadable(host.name, e)];
      }
    }),
  );
  const rows = perNode.flat();
  flagDifferingCas(rows, input.config.hosts.map((h) => h.name));
  const report = buildReport(rows, warnDays, now);
  return { text: renderReport(report, input.output ?? "table"), exitCode: report.exitCode };
}
