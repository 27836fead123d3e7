// The upgrade's record in the installer's state dir (replicated to every master with the rest): which
// node steps finished, for which target and bundle. apply.ts writes it; facts.ts reads it to know which
// nodes a stopped run left part-way.
import type { PhaseContext } from "../../phases/phase.ts";
import type { NodeStep } from "./plan.ts";

export const UPGRADE_STATE = "upgrade.json";
export interface UpgradeState {
  /** The target version and the new bundle's fingerprint: another bundle starts the record afresh. */
  to: string;
  bundle: string;
  /** node → the steps that finished there, in order. */
  done: Record<string, NodeStep[]>;
  finished?: string;
}

export const statePath = (ctx: Pick<PhaseContext, "stateDir">) => `${ctx.stateDir}/${UPGRADE_STATE}`;

export async function readUpgradeState(ctx: Pick<PhaseContext, "stateDir" | "local">): Promise<UpgradeState | null> {
  const b = await ctx.local.readFile(statePath(ctx));
  if (!b) return null;
  try {
    return JSON.parse(new TextDecoder().decode(b)) as UpgradeState;
  } catch {
    return null; // unreadable: the steps' own checks and repeatable commands cover it
  }
}

