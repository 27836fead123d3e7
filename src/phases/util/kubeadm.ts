// Running kubeadm from the phases: its output kept out of the logs and its stdout out of errors (it prints the certificate key),
// the init configuration's place in the state directory, and the depot as its image repository.
import { join as joinPath } from "node:path";
import type { Host } from "../../hosts/host.ts";
import type { PhaseContext } from "../phase.ts";
import { endpointHostPort } from "../../depot/endpoint.ts";
import { redact } from "../../util/log.ts";
import { sh, type ShellCommand } from "../../util/sh.ts";

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
