// `preflight`: the first install phase on its own; changes nothing on any node.
import { PHASES } from "../../phases/index.ts";
import { runPhase } from "../../phases/runner.ts";
import { runPreflight } from "../../phases/preflight/index.ts";
import { createProgress } from "../progress.ts";
import { openSession } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { parseOutput, renderData } from "../output.ts";
import { EXIT_FAILURE, EXIT_OK } from "../../util/errors.ts";
import type { GlobalFlags } from "../flags.ts";

export default async function preflight(flags: GlobalFlags & { ignorePreflightErrors?: string; output?: string }): Promise<number> {
  const output = parseOutput(flags.output, ["table", "json", "yaml"] as const);
  const config = readConfig(flags);
  const session = openSession(config, flags, "preflight");
  if (output !== "table") {
    try {
      // The whole result as data (docs/output.md "preflight"): ok findings too, so a script sees what passed.
      const r = await runPreflight(session.ctx);
      const ok = r.unreachable.length === 0 && r.blocking.length === 0;
      process.stdout.write(renderData({ ok, unreachable: r.unreachable, findings: r.findings, blocking: r.blocking.map((f) => `${f.host}/${f.check}`) }, output));
      return ok ? EXIT_OK : EXIT_FAILURE;
    } finally {
      await session.close();
    }
  }
  const progress = createProgress();
  session.log.setTerminal(progress.print);
  try {
    const phase = PHASES.find((p) => p.name === "preflight")!;
    const o = await runPhase(phase, session.ctx, { concurrency: 16 }, progress);
    progress.stop();
    const failed = o.hosts.find((h) => h.status === "failed");
    if (failed) {
      process.stderr.write(`${failed.detail}\n`);
      return EXIT_FAILURE;
    }
    return EXIT_OK;
  } finally {
    progress.stop();
    session.log.setTerminal(undefined);
    await session.close();
  }
}
