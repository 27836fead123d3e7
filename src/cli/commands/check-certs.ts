// `check-certs`: every certificate on every control-plane and etcd node, one table, exit code for monitoring.
import { runCheckCerts } from "../../certs/index.ts";
import { openSession, parsePositiveInt } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { UsageError } from "../../util/errors.ts";
import { certNodes } from "../../pki/certlist.ts";
import type { GlobalFlags } from "../flags.ts";

export default async function checkCerts(flags: GlobalFlags & { warnDays?: number | string; output?: string }): Promise<number> {
  const output = flags.output ?? "table";
  if (!["table", "json", "yaml"].includes(output)) throw new UsageError(`--output must be table, json or yaml, got "${output}"`);
  const warnDays = parsePositiveInt(flags.warnDays ?? 30, "--warn-days");
  const config = readConfig(flags);
  const session = openSession(config, { ...flags, logFile: flags.logFile }, "check-certs");
  try {
    const hosts = await Promise.all(certNodes(config).map((s) => session.ctx.host(s)));
    const { text, exitCode } = await runCheckCerts({ hosts, config, warnDays, output: output as "table" | "json" | "yaml" });
    process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
    return exitCode;
  } finally {
    await session.close();
  }
}
