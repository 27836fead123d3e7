// `renew-certs [--etcd] [--kubernetes]`: back up, renew in turn (never without quorum), then show check-certs.
import { CERT_EXIT, runCheckCerts } from "../../certs/index.ts";
import { certNodes } from "../../pki/certlist.ts";
import { backupDirFor, describeRenewal, renewCerts, type RenewScope } from "../../ops/renew-certs.ts";
import { openChangingSession, confirm, type ClusterSession } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { EXIT_FAILURE, UsageError } from "../../util/errors.ts";
import { firstMaster } from "../../config/types.ts";
import type { GlobalFlags } from "../flags.ts";

/** Neither flag means both. */
export function renewScope(flags: { etcd?: boolean; kubernetes?: boolean }): RenewScope {
  const etcd = Boolean(flags.etcd);
  const kubernetes = Boolean(flags.kubernetes);
  return etcd || kubernetes ? { etcd, kubernetes } : { etcd: true, kubernetes: true };
}

/** The backup and the etcd CA are on master1: run nowhere else. */
function requireOnMaster1(session: ClusterSession): void {
  const m = firstMaster(session.config);
  if (!session.pool.isLocal(m))
    throw new UsageError(
      `renew-certs runs on master1 (${m.name}, ${m.address}), where the installer keeps the etcd CA, and this machine has none of that address`,
      `run it on ${m.address} from the directory you installed from`,
    );
}

export default async function renewCertsCommand(flags: GlobalFlags & { etcd?: boolean; kubernetes?: boolean }): Promise<number> {
  const scope = renewScope(flags);
  const config = readConfig(flags);
  const plan = describeRenewal(config, scope, backupDirFor(config.stateDir, new Date()));
  if (flags.dryRun) {
    process.stdout.write(`renew-certs would, in this order:\n${plan.map((l, i) => `  ${i + 1}. ${l}`).join("\n")}\n`);
    return 0;
  }
  const session = await openChangingSession(config, flags, "renew-certs");
  try {
    requireOnMaster1(session);
    await confirm(`renew-certs will restart etcd and the control plane node by node:\n${plan.map((l) => `  - ${l}`).join("\n")}\nContinue?`, flags);
    session.log.info(`renew-certs (${[scope.etcd && "etcd", scope.kubernetes && "kubernetes"].filter(Boolean).join(" + ")})`);
    const result = await renewCerts(session.ctx, scope);
    session.log.info(`renewed; the certificates from before are in ${result.backupDir}`);
    const hosts = await Promise.all(certNodes(config).map((h) => session.ctx.host(h)));
    const check = await runCheckCerts({ hosts, config, output: "table" });
    process.stdout.write(check.text);
    if (check.exitCode === CERT_EXIT.expiredOrBroken || check.exitCode === CERT_EXIT.couldNotCheck) {
      process.stderr.write(`error: check-certs still reports ${check.exitCode === CERT_EXIT.couldNotCheck ? "nodes it could not check" : "expired or broken certificates"} (above); the certificates from before are in ${result.backupDir}\n`);
      return EXIT_FAILURE;
    }
    return 0;
  } finally {
    await session.close();
  }
}
