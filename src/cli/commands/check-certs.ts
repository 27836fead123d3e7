// `check-certs`: every certificate on every control-plane and etcd node, one table, exit code for monitoring.
import { runCheckCerts, type OutputFormat } from "../../certs/index.ts";
import type { Host } from "../../hosts/host.ts";
import { reasonOn } from "../../hosts/host.ts";
import { openSession, parsePositiveInt, type ClusterSession } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { certNodes } from "../../pki/certlist.ts";
import { parseOutput } from "../output.ts";
import type { GlobalFlags } from "../flags.ts";

export default async function checkCerts(flags: GlobalFlags & { warnDays?: number | string; output?: string }): Promise<number> {
  const output = parseOutput(flags.output, ["table", "json", "yaml", "prometheus"] as const);
  const warnDays = parsePositiveInt(flags.warnDays ?? 30, "--warn-days");
  const config = readConfig(flags);
  const session = openSession(config, flags, "check-certs");
  try {
    const { text, exitCode } = await checkCertsOn(session, { warnDays, output });
    process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
    return exitCode;
  } finally {
    await session.close();
  }
}

/** check-certs over the session's nodes (also renew-certs' closing report). */
export async function checkCertsOn(session: ClusterSession, opts: { warnDays?: number; output?: OutputFormat }) {
  // One node that cannot be reached is a row of its own (exit 3), never the end of the report.
  const nodes = certNodes(session.config);
  const settled = await Promise.allSettled(nodes.map((s) => session.ctx.host(s)));
  const hosts = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value as Host] : []));
  const unreachable = settled.flatMap((r, i) => (r.status === "rejected" ? [{ node: nodes[i]!.name, error: reasonOn(nodes[i]!.name, r.reason) }] : []));
  return runCheckCerts({ hosts, config: session.config, ...opts, unreachable });
}
