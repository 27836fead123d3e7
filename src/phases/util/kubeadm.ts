// Running kubeadm from the phases: its output kept out of the logs and its stdout out of errors (it
// prints the certificate key), the init configuration's place in the state directory (holding the
// join secrets only while kubeadm reads it), and the depot as its image repository.
import { join as joinPath } from "node:path";
import type { Host } from "../../hosts/host.ts";
import type { PhaseContext } from "../phase.ts";
import { firstMaster } from "../../config/types.ts";
import { endpointHostPort } from "../../depot/endpoint.ts";
import { redact } from "../../util/log.ts";
import { sh, type ShellCommand } from "../../util/sh.ts";
import { renderInitConfig, type JoinSecrets } from "./kubeadm-config.ts";
import { readText } from "./node.ts";

export const imageRepository = (ctx: Pick<PhaseContext, "depot">) => `${endpointHostPort(ctx.depot)}/google_containers`;
export const initConfigDir = (ctx: Pick<PhaseContext, "stateDir">) => joinPath(ctx.stateDir, "kubeadm");
export const initConfigPath = (ctx: Pick<PhaseContext, "stateDir">) => joinPath(initConfigDir(ctx), "init.yaml");

/** Run kubeadm with output kept out of the logs; failures are redacted of these secrets. */
export async function kubeadm(host: Host, args: ShellCommand, secrets: string[], timeoutMs = 600_000): Promise<void> {
  const r = await host.exec(sh`kubeadm ${args}`, { check: false, secret: true, timeoutMs });
  if (r.code !== 0) {
    // stderr only: kubeadm prints the certificate key and join commands on stdout, and says why it failed on stderr.
    const tail = redact(r.stderr.trim() || `exit ${r.code}, nothing on stderr`, secrets).split("\n").slice(-20).join("\n");
    throw new Error(`kubeadm ${args.text.split(" ")[0]} failed on ${host.name}:\n${tail}`);
  }
}

/** What stands in for the token and the certificate key in the init configuration kept after use. */
const REMOVED = "removed-after-use";

/** The init configuration as kept in stateDir between kubeadm runs: everything but the join secrets. */
export function scrubbedInitConfig(ctx: Pick<PhaseContext, "config" | "depot" | "stateDir">): string {
  const text = renderInitConfig(ctx.config, firstMaster(ctx.config), { token: REMOVED, certificateKey: REMOVED }, imageRepository(ctx));
  return text.replace(
    /^# .*\n/,
    `# Written by k8s-ha-offline, for reference: the bootstrap token and the certificate key were removed once kubeadm\n# had read them (they are kept in ${ctx.stateDir}/join.json, 0600, while they are valid).\n`,
  );
}

/** Whether a kept init configuration still names a real token or certificate key (a run cut during kubeadm). */
export const initConfigHoldsSecrets = (text: string) =>
  [...text.matchAll(/^(?:- )?\s*(?:token|certificateKey): "([^"]*)"/gm)].some((m) => m[1] !== REMOVED);

/** Rewrite stateDir/kubeadm/init.yaml without the join secrets; false when there was nothing to change. */
export async function scrubInitConfig(ctx: Pick<PhaseContext, "config" | "depot" | "stateDir" | "local">): Promise<boolean> {
  return ctx.local.writeFile(initConfigPath(ctx), scrubbedInitConfig(ctx), { mode: 0o600 });
}

/**
 * Run kubeadm commands that read the init configuration: it is written (0600) with the token and the
 * certificate key for them, and rewritten without those as soon as they are done, failed or not.
 * A run killed in between leaves them in the 0600 file; the post phase removes them.
 */
export async function withInitConfig(ctx: PhaseContext, s: JoinSecrets, run: (path: string) => Promise<void>): Promise<void> {
  const path = initConfigPath(ctx);
  await ctx.local.exec(sh`mkdir -p ${initConfigDir(ctx)} && chmod 700 ${initConfigDir(ctx)}`);
  await ctx.local.writeFile(path, renderInitConfig(ctx.config, firstMaster(ctx.config), s, imageRepository(ctx)), { mode: 0o600 });
  let failed = false;
  try {
    await run(path);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    await scrubInitConfig(ctx).catch((e) => {
      // kubeadm's own failure is the one to report; the post phase retries the clean-up.
      if (!failed) throw e;
      ctx.log.warn(`could not remove the join secrets from ${path}: ${(e as Error).message}`);
    });
  }
}

/** The kept init configuration, when it still holds join secrets (null otherwise). */
export async function initConfigWithSecrets(ctx: PhaseContext): Promise<string | null> {
  const text = await readText(ctx.local, initConfigPath(ctx));
  return text !== null && initConfigHoldsSecrets(text) ? text : null;
}
