// `serve`: the depot (registry + package repository + files) in the foreground; `install` runs
// the same command as a systemd service on master1.
import { resolve } from "node:path";
import { existsSync } from "node:fs";
import { startDepotServer } from "../../depot/server.ts";
import { loadConfig } from "../../config/load.ts";
import { firstMaster } from "../../config/types.ts";
import { createLogger } from "../../util/log.ts";
import { UsageError } from "../../util/errors.ts";
import type { GlobalFlags } from "../flags.ts";

export default async function serve(flags: GlobalFlags & { bundle?: string; listen?: string }): Promise<number> {
  const config = existsSync(flags.config) ? loadConfig(resolve(flags.config)) : undefined;
  const bundleDir = resolve(flags.bundle ?? config?.bundle.dir ?? "");
  if (!flags.bundle && !config) throw new UsageError("serve needs --bundle DIR (or a cluster.yaml naming bundle.dir)");
  const listen = flags.listen ?? (config ? `${firstMaster(config).address}:${config.depot.port}` : undefined);
  if (!listen) throw new UsageError("serve needs --listen ADDR:PORT");
  if (!/^[^:\s]+:\d{1,5}$/.test(listen)) throw new UsageError(`--listen "${listen}" is not ADDR:PORT`, "e.g. --listen 0.0.0.0:5000");
  const log = createLogger({ logFile: flags.logFile, verbose: flags.verbose });
  const server = await startDepotServer({ bundleDir, listen, log });
  log.info(`depot serving ${bundleDir} at ${server.url} (registry /v2/, packages /repo/, files /files/)`);
  await new Promise<void>((done) => {
    const stop = async () => {
      await server.stop();
      done();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return 0;
}
