// The cluster's repository signing key (src/depot/repo-signing.ts): made once per cluster on master1 and
// kept 0600 in the state dir beside secrets.json, so every re-run and every later add-node signs with the
// same key and the nodes' copies of its public half stay valid.
import { join } from "node:path";
import type { PhaseContext } from "../phase.ts";
import { generateRepoKey, publicRepoKey, type RepoKey } from "../../depot/repo-signing.ts";
import { sh } from "../../util/sh.ts";
import { textOf } from "../../util/text.ts";

export const repoKeyPath = (stateDir: string) => join(stateDir, "repo-signing.key");

/** The kept key, or undefined when there is none yet. */
export async function readRepoKey(ctx: Pick<PhaseContext, "local" | "stateDir">): Promise<RepoKey | undefined> {
  const privateArmored = textOf(await ctx.local.readFile(repoKeyPath(ctx.stateDir)));
  if (!privateArmored) return undefined;
  try {
    return { privateArmored, ...(await publicRepoKey(privateArmored)) };
  } catch (e) {
    throw new Error(`${repoKeyPath(ctx.stateDir)}: ${(e as Error).message}. Restore it from a backup, or move it away to have a new key made (every node then gets the new public key from the trust phase).`);
  }
}

/** The kept key; made and stored (0600) the first time. */
export async function ensureRepoKey(ctx: Pick<PhaseContext, "local" | "stateDir" | "config" | "log">): Promise<{ key: RepoKey; created: boolean }> {
  const have = await readRepoKey(ctx);
  if (have) return { key: have, created: false };
  const key = await generateRepoKey(ctx.config.name);
  await ctx.local.exec(sh`mkdir -p ${ctx.stateDir} && chmod 700 ${ctx.stateDir}`);
  await ctx.local.writeFile(repoKeyPath(ctx.stateDir), key.privateArmored, { mode: 0o600 });
  ctx.log.info(`    depot: made the repository signing key (fingerprint ${key.fingerprint}), kept in ${repoKeyPath(ctx.stateDir)}`);
  return { key, created: true };
}
