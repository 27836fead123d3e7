// `phases`: the install phases in order; with a config, the hosts each applies to.
import { PHASES } from "../../phases/index.ts";
import { describePlan } from "../../phases/runner.ts";
import { readConfig } from "../run-inputs.ts";
import { parseOutput, renderData } from "../output.ts";
import type { GlobalFlags } from "../flags.ts";
import { existsSync } from "node:fs";

export default async function phases(flags: GlobalFlags & { output?: string }): Promise<number> {
  const output = parseOutput(flags.output, ["table", "json", "yaml"] as const);
  const config = existsSync(flags.config) ? readConfig(flags) : undefined;
  if (output !== "table") {
    // docs/output.md "phases": hosts only when a config was read.
    const data = PHASES.map((p, i) => ({
      order: i + 1,
      name: p.name,
      title: p.title,
      mode: p.mode,
      ...(config ? { hosts: p.hosts(config).map((h) => h.name) } : {}),
    }));
    process.stdout.write(renderData({ phases: data }, output));
    return 0;
  }
  if (config) console.log(describePlan(PHASES, { config }));
  else for (const [i, p] of PHASES.entries()) console.log(`${String(i + 1).padStart(2)}. ${p.name.padEnd(20)} ${p.title}`);
  return 0;
}
