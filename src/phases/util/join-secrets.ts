// The bootstrap token and the certificate key are generated here (never the abcdef.0123456789abcdef
// with ttl 0 of the reference guide in ../shared/seed/), kept in stateDir/join.json (0600) on master1,
// and renewed when they would expire: tokens after tokenTTL, uploaded control-plane certificates after 2 h.
import { join } from "node:path";
import type { PhaseContext } from "../phase.ts";
import { bootstrapToken, certificateKey } from "../../pki/discovery.ts";
import { sh } from "../../util/sh.ts";

export interface JoinState {
  token: string;
  /** ms since epoch; 0 = never expires (only with kubernetes.allowNonExpiringToken). */
  tokenExpiresAt: number;
  certificateKey: string;
  /** When the control-plane certificates were last uploaded (kubeadm deletes them after 2 h). */
  certsUploadedAt: number;
}

const file = (ctx: Pick<PhaseContext, "stateDir">) => join(ctx.stateDir, "join.json");
/** kubeadm deletes uploaded certificates after two hours; re-upload with margin. */
export const CERTS_TTL_MS = 2 * 3600_000 - 10 * 60_000;
const MARGIN_MS = 15 * 60_000;

/** "24h", "1h30m", "90m", "0" -> ms (0 = never). */
export function ttlMs(ttl: string): number {
  if (ttl === "0" || ttl === "0s") return 0;
  let total = 0;
  for (const [, n, unit] of ttl.matchAll(/(\d+(?:\.\d+)?)(h|m|s)/g)) total += Number(n) * { h: 3600_000, m: 60_000, s: 1000 }[unit as "h" | "m" | "s"];
  return total;
}

export async function readJoinState(ctx: PhaseContext): Promise<JoinState | null> {
  const raw = await ctx.local.readFile(file(ctx));
  return raw ? (JSON.parse(new TextDecoder().decode(raw)) as JoinState) : null;
}

export async function writeJoinState(ctx: PhaseContext, s: JoinState): Promise<void> {
  await ctx.local.exec(sh`mkdir -p ${ctx.stateDir} && chmod 700 ${ctx.stateDir}`);
  await ctx.local.writeFile(file(ctx), JSON.stringify(s, null, 2) + "\n", { mode: 0o600 });
}

/** Fresh secrets for kubeadm init (the token is created by init itself from the config file). */
export async function newJoinState(ctx: PhaseContext): Promise<JoinState> {
  const ttl = ttlMs(ctx.config.kubernetes.tokenTTL);
  const s = { token: bootstrapToken(), tokenExpiresAt: ttl ? Date.now() + ttl : 0, certificateKey: certificateKey(), certsUploadedAt: Date.now() };
  await writeJoinState(ctx, s);
  return s;
}

export const tokenUsable = (s: JoinState, now = Date.now()) => s.tokenExpiresAt === 0 || s.tokenExpiresAt - MARGIN_MS > now;
export const certsUsable = (s: JoinState, now = Date.now()) => now - s.certsUploadedAt < CERTS_TTL_MS;
