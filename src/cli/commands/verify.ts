// `verify --failover`: the measured failover drill against the installed cluster (see src/ops/failover.ts).
// Whatever it stops is started again, also on Ctrl-C / SIGTERM and on failure.
import { invokedAs } from "../invoked.ts";
import { openSession, confirm, parsePositiveInt } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { UsageError, EXIT_OK, EXIT_FAILURE } from "../../util/errors.ts";
import type { GlobalFlags } from "../flags.ts";
import { controlPlanes, firstMaster } from "../../config/types.ts";
import { CA_CRT, vipUrl } from "../../cluster/endpoints.ts";
import { DEFAULT_BUDGETS, RETURN_HOLDOFF_SECONDS, runFailoverDrill, renderFailoverTable } from "../../ops/failover.ts";
import { readyzRequest } from "../../ops/requests.ts";
import { ServiceGuard } from "../../ops/service-guard.ts";

interface VerifyFlags extends GlobalFlags {
  failover?: boolean;
  budgetHaproxy?: string | number;
  budgetKeepalived?: string | number;
  requestsPerSecond?: string | number;
}

function seconds(value: unknown, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 600) throw new UsageError(`${flag} must be a number of seconds between 0 and 600, got "${value}"`);
  return n;
}

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

export default async function verify(flags: VerifyFlags): Promise<number> {
  if (!flags.failover) throw new UsageError("verify needs to be told what to verify", `run: ${invokedAs()} verify --failover`);
  const budgets = {
    haproxy: seconds(flags.budgetHaproxy, "--budget-haproxy", DEFAULT_BUDGETS.haproxy),
    keepalived: seconds(flags.budgetKeepalived, "--budget-keepalived", DEFAULT_BUDGETS.keepalived),
  };
  const rps = parsePositiveInt(flags.requestsPerSecond ?? 20, "--requests-per-second");
  if (rps > 200) throw new UsageError(`--requests-per-second must be at most 200, got ${rps}`);
  const config = readConfig(flags);
  if (flags.dryRun) {
    process.stdout.write(
      `would stop and start again, on the VIP holder among ${controlPlanes(config).map((h) => h.name).join(", ")}: haproxy (budget ${budgets.haproxy} s), ` +
        `then keepalived (budget ${budgets.keepalived} s), with ${rps} requests/s to ${vipUrl({ config })}/readyz\n`,
    );
    return EXIT_OK;
  }
  await confirm("The drill stops haproxy, then keepalived, on the VIP holder for a few seconds each (and starts them again). Go on?", flags);
  const session = openSession(config, flags, "verify-failover");
  const guard = new ServiceGuard();
  const abort = new AbortController();
  let caught: keyof typeof SIGNAL_EXIT | undefined;
  const onSignal = (sig: keyof typeof SIGNAL_EXIT) => {
    if (caught) return process.stderr.write(`${sig} again: still starting ${guard.pending().join(", ") || "nothing"}; wait a moment\n`);
    caught = sig;
    process.stderr.write(`\n${sig}: stopping the drill and starting again what it stopped ...\n`);
    abort.abort(new Error(`interrupted by ${sig}`));
  };
  const handlers = { SIGINT: () => onSignal("SIGINT"), SIGTERM: () => onSignal("SIGTERM") };
  process.on("SIGINT", handlers.SIGINT).on("SIGTERM", handlers.SIGTERM);
  try {
    const master1 = await session.ctx.host(firstMaster(config));
    const ca = await master1.readFile(CA_CRT);
    if (!ca) throw new UsageError(`there is no ${CA_CRT} on ${firstMaster(config).name}: the cluster is not installed`, `run ${invokedAs()} install first`);
    const lb = config.loadBalancer;
    const nodes = await Promise.all(controlPlanes(config).map(async (spec) => ({ name: spec.name, host: await session.ctx.host(spec) })));
    const url = `${vipUrl({ config })}/readyz`;
    session.log.info(`failover drill: ${rps} requests/s to ${url}, budgets haproxy ${budgets.haproxy} s, keepalived ${budgets.keepalived} s (a return ${RETURN_HOLDOFF_SECONDS} s more: keepalived's hold-off)`);
    const report = await runFailoverDrill({
      nodes,
      vip: lb.vip,
      nopreempt: lb.nopreempt,
      budgets,
      send: readyzRequest(url, new TextDecoder().decode(ca), 1_000),
      requestsPerSecond: rps,
      signal: abort.signal,
      guard,
      log: (line) => session.log.info(`  ${line}`),
    });
    process.stdout.write(renderFailoverTable(report));
    if (caught) return SIGNAL_EXIT[caught];
    return report.ok ? EXIT_OK : EXIT_FAILURE;
  } finally {
    // The drill restores in its own finally; this covers a failure before or around it.
    await guard.restoreAll();
    process.off("SIGINT", handlers.SIGINT).off("SIGTERM", handlers.SIGTERM);
    await session.close();
  }
}
