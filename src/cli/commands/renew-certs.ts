// `renew-certs [--etcd] [--kubernetes]`: back up, renew in turn (never without quorum), then show check-certs.
import { CERT_EXIT } from "../../certs/index.ts";
import { checkCertsOn } from "./check-certs.ts";
import { backupDirFor, describeRenewal, renewCerts, type RenewScope } from "../../ops/renew-certs.ts";
import { openChangingSession, confirm, requireOnMaster } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { EXIT_FAILURE } from "../../util/errors.ts";
import type { GlobalFlags } from "../flags.ts";

/** Neither flag means both. */
export function renewScope(flags: { etcd?: boolean; kubernetes?: boolean }): RenewScope {
  const etcd = Boolean(flags.etcd);
  const kubernetes = Boolean(flags.kubernetes);
  return etcd || kubernetes ? { etcd, kubernetes } : { etcd: true, kubernetes: true };
}

export default async function renewCertsCommand(flags: GlobalFlags & { etcd?: boolean; kubernetes?: boolean }): Promise<number> {
  const scope = renewScope(flags);
  const config = readConfig(flags);
  const plan = describeRenewal(config, scope, backupDirFor(config.stateDir, new Date()));
  if (flags.dryRun) {
    process.stdout.write(`renew-certs would, in this order:\n${plan.map((l, i) => `  ${i + 1}. ${l}`).join("\n")}\n`);
    return 0;
  }
  requireOnMaster(config, "renew-certs");
  // A master that is down is left out (its certificates wait for its return): the others are renewed.
  const session = await openChangingSession(config, flags, "renew-certs", { mustReach: [] });
  try {
    await confirm(`renew-certs will restart etcd and the control plane node by node:\n${plan.map((l) => `  - ${l}`).join("\n")}\nContinue?`, flags);
    session.log.info(`renew-certs (${[scope.etcd && "etcd", scope.kubernetes && "kubernetes"].filter(Boolean).join(" + ")})`);
    const result = await renewCerts(session.ctx, scope);
    session.log.info(`renewed; the certificates from before are in ${result.backupDir}`);
    const check = await checkCertsOn(session, { output: "table" });
    process.stdout.write(check.text);
    const down = [...(session.ctx.down ?? [])];
    // Nodes left out because they were down are not checked either: that is said, not failed.
    if (down.length) process.stderr.write(`warning: ${down.join(", ")} ${down.length > 1 ? "were" : "was"} down and left out: ${down.length > 1 ? "their" : "its"} certificates were not renewed; run renew-certs again when ${down.length > 1 ? "they are" : "it is"} back\n`);
    if (check.exitCode === CERT_EXIT.expiredOrBroken || (check.exitCode === CERT_EXIT.couldNotCheck && !down.length)) {
      process.stderr.write(`error: check-certs still reports ${check.exitCode === CERT_EXIT.couldNotCheck ? "nodes it could not check" : "expired or broken certificates"} (above); the certificates from before are in ${result.backupDir}\n`);
      return EXIT_FAILURE;
    }
    return 0;
  } finally {
    await session.close();
  }
}
