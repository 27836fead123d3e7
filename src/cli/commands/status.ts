// `status`: nodes, services, etcd health, VIP holder, depot and Kubernetes nodes in one table.
// Exit 0 healthy, 1 degraded (the table says what), 2 bad usage, 3 not installed.
import { openSession } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { EXIT_OK, EXIT_FAILURE } from "../../util/errors.ts";
import type { GlobalFlags } from "../flags.ts";
import { collectStatus, readDepotCa } from "../../ops/status.ts";
import { depotUrl } from "../../depot/endpoint.ts";
import { notInstalledAnywhere, renderStatusTable } from "../../ops/status-render.ts";
import { parseOutput, renderData } from "../output.ts";

/** status: the cluster is installed on no node, or no node answered (docs/output.md, exit codes). */
export const EXIT_COULD_NOT_CHECK = 3;

export default async function status(flags: GlobalFlags & { output?: string }): Promise<number> {
  const output = parseOutput(flags.output, ["table", "json", "yaml"] as const);
  const config = readConfig(flags);
  const session = openSession(config, flags, "status");
  try {
    const depotCa = await readDepotCa(session.ctx.local, session.ctx.stateDir);
    const report = await collectStatus({ config, host: session.ctx.host, depotUrl: depotUrl(session.ctx.depot), depotCa, isLocal: (h) => session.pool.isLocal(h) });
    const notInstalled = notInstalledAnywhere(report);
    const unreachable = report.nodes.every((n) => !n.reachable);
    const verdict = report.healthy ? "healthy" : notInstalled ? "not installed" : unreachable ? "unreachable" : "degraded";
    process.stdout.write(output === "table" ? renderStatusTable(report) : renderData({ ...report, status: verdict }, output));
    return report.healthy ? EXIT_OK : notInstalled || unreachable ? EXIT_COULD_NOT_CHECK : EXIT_FAILURE;
  } finally {
    await session.close();
  }
}
