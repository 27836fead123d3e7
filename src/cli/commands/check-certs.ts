// `check-certs`: every certificate on every control-plane and etcd node, one table, exit code for monitoring.
import { runCheckCerts } from "../../certs/index.ts";
import type { Host } from "../../hosts/host.ts";
import { reasonOn } from "../../hosts/host.ts";
import { openSession, parsePositiveInt } from "../context.ts";
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
    // One node that cannot be reached is a row of its own (exit 3), never the end of the report.
    const nodes = certNodes(config);
    const settled = await Promise.allSettled(nodes.map((s) => session.ctx.host(s)));
    const hosts = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value as Host] : []));
    const unreachable = settled.flatMap((r, i) => (r.status === "rejected" ? [{ node: nodes[i]!.name, error: reasonOn(nodes[i]!.name, r.reason) }] : []));
    const { text, exitCode } = await runCheckCerts({ hosts, config, warnDays, output, unreachable });
    process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
    return exitCode;
  } finally {
    await session.close();
  }
}
