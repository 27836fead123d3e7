// Phase "depot-pki": the depot's secrets, made or kept once, on master1 — the depot CA (kept in the state
// dir), the serving certificate naming every master and depot.address, and the repository signing key.
// The depot phase then gives every master the serving pair and the signing key over SSH.
import { dirname } from "node:path";
import type { Phase, PhaseContext } from "./phase.ts";
import { controlPlanes } from "../config/types.ts";
import { NOTHING, todo } from "./steps.ts";
import { sh } from "../util/sh.ts";
import { DEPOT_SERVING, depotCaStatePaths, depotStateCa, planDepotPki, reviewDepotPki, type ExistingDepotPki } from "../pki/depot-pki.ts";
import { readStateCa, writeStateCa } from "../cluster/state-ca.ts";
import { ensureRepoKey, readRepoKey, repoKeyPath } from "./util/repo-key.ts";
import { textOf } from "../util/text.ts";

/** The depot PKI as it is on master1: the CA from the state dir (or its backup), the serving pair. */
export async function readDepotPki(ctx: Pick<PhaseContext, "local" | "stateDir">): Promise<ExistingDepotPki> {
  // Read at once: the reads share one command (src/hosts/coalesce.ts).
  const read = async (path: string) => textOf(await ctx.local.readFile(path));
  const [{ ca, unfinished }, certPem, keyPem] = await Promise.all([readStateCa(ctx.local, depotCaStatePaths(ctx.stateDir)), read(DEPOT_SERVING.cert), read(DEPOT_SERVING.key)]);
  return { ca, serving: { certPem, keyPem }, ...(unfinished ? { unfinishedCa: true } : {}) };
}

/** What the phase would change in the PKI and the key, in words; empty when everything is kept. */
async function pendingSecrets(ctx: PhaseContext): Promise<string[]> {
  const existing = await readDepotPki(ctx);
  const out = reviewDepotPki(ctx.config, existing).filter((a) => a.action === "issued").map((a) => `${a.id}: ${a.why}`);
  const paths = depotCaStatePaths(ctx.stateDir);
  if (existing.unfinishedCa) out.push(`depot-ca: finish the CA an interrupted run began (${paths.pending})`);
  else if (out.length === 0) {
    // Kept, but a copy (or the backup) may be missing.
    const copies = [[paths.cert, existing.ca?.certPem], [paths.backupCert, existing.ca?.certPem], [paths.backupKey, existing.ca?.keyPem], [paths.key, existing.ca?.keyPem]] as const;
    const held = await Promise.all(copies.map(([path]) => ctx.local.readFile(path)));
    copies.forEach(([path, want], i) => textOf(held[i] ?? null) !== want && out.push(`${path} missing or different`));
  }
  if (!(await readRepoKey(ctx))) out.push(`repository signing key: missing (${repoKeyPath(ctx.stateDir)})`);
  return out;
}

export const depotPki: Phase = {
  name: "depot-pki",
  title: "The depot CA, the depot's serving certificate (every master and depot.address) and the repository signing key, in the installer state (replicated to every master)",
  hosts: controlPlanes,
  mode: "local",
  async check(ctx) {
    const secrets = await pendingSecrets(ctx);
    return secrets.length ? todo(secrets.join(", ")) : NOTHING;
  },
  async run(ctx) {
    // The CA first, whole (made, finished or kept): the plan below then only keeps it.
    const ca = await writeStateCa(ctx.local, depotStateCa(ctx.config), new Date());
    if (ca.created) ctx.log.info(`    depot: issued depot-ca (missing)`);
    const plan = await planDepotPki(ctx.config, await readDepotPki(ctx));
    for (const a of plan.actions) if (a.action === "issued") ctx.log.info(`    depot: issued ${a.id} (${a.why})`);
    await ctx.local.exec(
      sh`mkdir -p ${[...new Set(plan.files.map((f) => dirname(f.path)))]} && chmod 700 ${`${ctx.stateDir}/pki`} ${dirname(DEPOT_SERVING.key)}`,
    );
    for (const f of plan.files) await ctx.local.writeFile(f.path, f.content, { mode: f.mode });
    await ensureRepoKey(ctx);
  },
};
