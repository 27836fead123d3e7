// `preflight`: the first install phase on its own; changes nothing on any node.
import { PHASES } from "../../phases/index.ts";
import { runPhase } from "../../phases/runner.ts";
import { createProgress } from "../progress.ts";
import { openSession } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import type { GlobalFlags } from "../flags.ts";

export default async function preflight(flags: GlobalFlags & { ignorePreflightErrors?: string }): Promise<number> {
  const config = readConfig(flags);
  const session = openSession(config, flags, "preflight");
  const progress = createProgress();
  try {
    const phase = PHASES.find((p) => p.name === "preflight")!;
    const o = await runPhase(phase, session.ctx, { concurrency: 16 }, progress);
    progress.stop();
    const failed = o.hosts.find((h) => h.status === "failed");
    if (failed) {
      process.stderr.write(`${failed.detail}\n`);
      return 1;
    }
    return 0;
  } finally {
    progress.stop();
    await session.close();
  }
}
