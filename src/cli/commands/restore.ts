// `restore FILE --yes`: disaster recovery onto the same nodes (src/ops/restore.ts). The archive is
// checked completely, and refused when it is not this cluster's, before anything changes.
import { openSession, confirm } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import type { GlobalFlags } from "../flags.ts";
import { openArchive } from "../../ops/backup-archive.ts";
import { preflightRestore, restoreCluster } from "../../ops/restore.ts";
import { passphraseFrom, readArchiveFile } from "./backup.ts";

export default async function restore(file: string, flags: GlobalFlags & { passphraseEnv?: string }): Promise<number> {
  const passphrase = passphraseFrom(flags);
  const config = readConfig(flags);
  const { path, data } = readArchiveFile(file);
  const opened = await openArchive(data, path, passphrase);
  const session = openSession(config, flags, "restore");
  try {
    const t = Date.now();
    const { snapshot, cas } = await preflightRestore({ ...session.ctx, log: session.log }, opened);
    session.log.info(`archive ${path}: cluster ${opened.manifest.cluster}, written ${opened.manifest.created}; snapshot ${snapshot}`);
    const missing = cas.filter((c) => c.verdict === "missing");
    if (missing.length) session.log.info(`  CAs missing on nodes (the archive's will be put back): ${missing.map((c) => `${c.node} ${c.path}`).join(", ")}`);
    if (flags.dryRun) {
      console.log("the archive is sound and this cluster's; restore would stop the control planes and etcd, restore the snapshot on every member and start them again");
      return 0;
    }
    await confirm(`restore replaces the etcd data of ${config.name} with the snapshot of ${opened.manifest.created} (the current data is kept aside). Continue?`, flags);
    await restoreCluster({ ...session.ctx, log: session.log }, opened);
    session.log.info(`restored ${config.name} from ${path} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    return 0;
  } finally {
    await session.close();
  }
}
