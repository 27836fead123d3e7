// A phase made of small steps, each with its own read-only check: the phase has work when any step has,
// and a re-run executes only the steps whose check says so. The runner calls run right after check
// on the same node (src/phases/runner.ts): run uses the results of that check instead of asking
// every step again (a second round of SSH commands per node and phase).
import type { HostSpec } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import type { CheckResult, Phase, PhaseContext } from "./phase.ts";

export interface Step {
  name: string;
  check(host: Host, ctx: PhaseContext, node: HostSpec): Promise<CheckResult>;
  run(host: Host, ctx: PhaseContext, node: HostSpec): Promise<void>;
}

export const NOTHING: CheckResult = { todo: false };
export const todo = (why: string): CheckResult => ({ todo: true, why });
export const skip = (why: string): CheckResult => ({ skip: why });

/**
 * The first item, in order, that `ok` says no to: every item is asked at once (a node's reads share one
 * command, src/hosts/coalesce.ts) instead of one round trip after the other.
 */
export async function firstNotOk<T>(items: readonly T[], ok: (item: T) => Promise<boolean>): Promise<T | undefined> {
  const answers = await Promise.all(items.map(ok));
  return items.find((_, i) => !answers[i]);
}

export function stepsPhase(def: Pick<Phase, "name" | "title" | "hosts"> & { mode?: Phase["mode"]; steps: Step[] }): Phase {
  type Checked = { host: Host; results: [Step, CheckResult][] };
  const checkAll = async (ctx: PhaseContext, node: HostSpec): Promise<Checked> => {
    const host = await ctx.host(node);
    // Checks only read, so they run side by side: their reads share commands (src/hosts/coalesce.ts)
    // and the phase waits for the slowest check instead of the sum. The first failure in step order
    // is the one reported, as when they ran one after the other.
    const settled = await Promise.allSettled(def.steps.map((s) => s.check(host, ctx, node)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    const results = def.steps.map((s, i): [Step, CheckResult] => [s, (settled[i] as PromiseFulfilledResult<CheckResult>).value]);
    return { host, results };
  };
  // The check's results, per phase context (the runner gives each phase run a context of its own, so
  // nothing outlives it) and node; run takes them once: a later run checks afresh.
  const checked = new WeakMap<PhaseContext, Map<string, Checked>>();
  const keep = (ctx: PhaseContext, node: HostSpec, c: Checked) => {
    let m = checked.get(ctx);
    if (!m) checked.set(ctx, (m = new Map()));
    m.set(node.name, c);
  };
  const take = (ctx: PhaseContext, node: HostSpec): Checked | undefined => {
    const c = checked.get(ctx)?.get(node.name);
    checked.get(ctx)?.delete(node.name);
    return c;
  };
  return {
    name: def.name,
    title: def.title,
    hosts: def.hosts,
    mode: def.mode ?? "parallel",
    async check(ctx, node) {
      const c = await checkAll(ctx, node);
      keep(ctx, node, c);
      const { results } = c;
      const pending = results.filter(([, r]) => "todo" in r && r.todo);
      if (pending.length) return todo(pending.map(([s, r]) => `${s.name}: ${(r as { why: string }).why}`).join("; "));
      const skipped = results.filter(([, r]) => "skip" in r);
      if (skipped.length === results.length) return skip(skipped.map(([s, r]) => `${s.name}: ${(r as { skip: string }).skip}`).join("; "));
      return NOTHING;
    },
    async run(ctx, node) {
      const { host, results } = take(ctx, node) ?? (await checkAll(ctx, node));
      for (const [s, r] of results) {
        if ("skip" in r) ctx.log.info(`    ${node.name}: ${def.name}/${s.name} skipped: ${r.skip}`);
        else if (r.todo) {
          ctx.log.debug(`${node.name}: ${def.name}/${s.name}: ${r.why}`);
          await s.run(host, ctx, node);
        }
      }
    },
  };
}
