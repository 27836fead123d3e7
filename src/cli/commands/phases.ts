import { PHASES } from "../../phases/index.ts";
import { describePlan } from "../../phases/runner.ts";
import { readConfig } from "../run-inputs.ts";
import type { GlobalFlags } from "../flags.ts";
import { existsSync } from "node:fs";

export default async function phases(flags: GlobalFlags): Promise<number> {
  if (existsSync(flags.config)) {
    console.log(describePlan(PHASES, { config: readConfig(flags) }));
  } else {
    for (const [i, p] of PHASES.entries()) console.log(`${String(i + 1).padStart(2)}. ${p.name.padEnd(20)} ${p.title}`);
  }
  return 0;
}
