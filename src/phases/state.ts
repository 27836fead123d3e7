// Finished phases are recorded on master1 so an operator (and `status`) can see how far an install got.
// Idempotency itself comes from each phase's check, not from this file: a re-run checks everything.
import { join } from "node:path";
import type { PhaseContext } from "./phase.ts";
import type { PhaseOutcome } from "./runner.ts";
import { sh } from "../util/sh.ts";

export interface InstallState {
  cluster: string;
  phases: Record<string, { finishedAt: string; ms: number; hosts: Record<string, string> }>;
}

export const stateFile = (ctx: Pick<PhaseContext, "stateDir">) => join(ctx.stateDir, "state.json");

export async function readState(ctx: Pick<PhaseContext, "stateDir" | "local" | "config">): Promise<InstallState> {
  const raw = await ctx.local.readFile(stateFile(ctx));
  if (!raw) return { cluster: ctx.config.name, phases: {} };
  try {
    return JSON.parse(new TextDecoder().decode(raw)) as InstallState;
  } catch {
    return { cluster: ctx.config.name, phases: {} };
  }
}

/**
 * A phase that did nothing anywhere (a re-run) keeps its record: it says when the work was finished,
 * and an unchanged state.json is neither rewritten nor replicated to the other masters (which, for
 * every phase of a re-run, cost a new state generation and two uploads per master).
 */
export async function recordPhaseDone(ctx: PhaseContext, o: PhaseOutcome): Promise<void> {
  const state = await readState(ctx);
  const idle = o.hosts.every((h) => h.status === "nothing to do" || h.status === "skipped");
  if (idle && state.phases[o.name]) return;
  state.phases[o.name] = {
    finishedAt: new Date().toISOString(),
    ms: o.ms,
    hosts: Object.fromEntries(o.hosts.map((h) => [h.host, h.status])),
  };
  await ctx.local.exec(sh`mkdir -p ${ctx.stateDir} && chmod 700 ${ctx.stateDir}`);
  await ctx.local.writeFile(stateFile(ctx), JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
}
