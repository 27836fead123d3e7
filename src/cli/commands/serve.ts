// `serve`: the depot (registry + package repository + files) in the foreground; `install` runs
// the same command as a systemd service on master1.
import { startDepotServer } from "../../depot/server.ts";
import { parseEndpoint } from "../../depot/endpoint.ts";
import { createLogger } from "../../util/log.ts";
import { UsageError } from "../../util/errors.ts";
import { bundleInputs, type RunFlags } from "../run-inputs.ts";

export default async function serve(flags: RunFlags & { listen?: string }): Promise<number> {
  const { bundleDir, depot } = bundleInputs(flags);
  const listen = flags.listen !== undefined ? parseEndpoint(flags.listen) : depot;
  if (!listen) throw new UsageError("serve needs --listen ADDR:PORT (or a cluster.yaml naming the depot)", "e.g. --listen 0.0.0.0:5000");
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
