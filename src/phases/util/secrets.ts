// Secrets the installer generates (never the admin123 / 123456 of the reference guide in
// ../shared/seed/) are kept on master1 in stateDir/secrets.json (0600), so every node and every
// re-run gets the same value.
import { join } from "node:path";
import type { PhaseContext } from "../phase.ts";
import { randomPassword } from "../../pki/discovery.ts";
import { sh } from "../../util/sh.ts";

export type SecretName = "keepalivedAuthPass" | "haproxyStatsPassword";
const LENGTH: Record<SecretName, number> = { keepalivedAuthPass: 8, haproxyStatsPassword: 24 };

async function load(ctx: PhaseContext): Promise<Record<string, string>> {
  const raw = await ctx.local.readFile(join(ctx.stateDir, "secrets.json"));
  return raw ? (JSON.parse(new TextDecoder().decode(raw)) as Record<string, string>) : {};
}

export async function secret(ctx: PhaseContext, name: SecretName): Promise<string> {
  if (name === "keepalivedAuthPass" && ctx.config.loadBalancer.authPass) return ctx.config.loadBalancer.authPass;
  // Phases run hosts in parallel: one load/generate/store at a time per run, shared by all of them.
  const slot = ctx.once("secrets", () => ({ pending: load(ctx) }));
  const next = slot.pending.then(async (all) => {
    if (!all[name]) {
      all[name] = randomPassword(LENGTH[name]);
      await ctx.local.exec(sh`mkdir -p ${ctx.stateDir} && chmod 700 ${ctx.stateDir}`);
      await ctx.local.writeFile(join(ctx.stateDir, "secrets.json"), JSON.stringify(all, null, 2) + "\n", { mode: 0o600 });
    }
    return all;
  });
  slot.pending = next;
  return (await next)[name]!;
}
