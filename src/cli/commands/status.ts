// `status`: nodes, services, etcd health, VIP holder, depot and Kubernetes nodes in one table.
// Exit 0 healthy, 1 degraded (the table says what), 2 bad usage.
import { openSession } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { UsageError, EXIT_OK, EXIT_FAILURE } from "../../util/errors.ts";
import type { GlobalFlags } from "../flags.ts";
import { collectStatus, readDepotCa } from "../../ops/status.ts";
import { depotUrl } from "../../depot/endpoint.ts";
import { renderStatusTable } from "../../ops/status-render.ts";

export default async function status(flags: GlobalFlags & { output?: string }): Promise<number> {
  const output = flags.output ?? "table";
  if (output !== "table" && output !== "json") throw new UsageError(`--output must be table or json, got "${output}"`);
  const config = readConfig(flags);
  const session = openSession(config, flags, "status");
  try {
    const depotCa = await readDepotCa(session.ctx.local, session.ctx.stateDir);
    const report = await collectStatus({ config, host: session.ctx.host, depotUrl: depotUrl(session.ctx.depot), depotCa });
    process.stdout.write(output === "json" ? `${JSON.stringify(report, null, 2)}\n` : renderStatusTable(report));
    return report.healthy ? EXIT_OK : EXIT_FAILURE;
  } finally {
    await session.close();
  }
}
