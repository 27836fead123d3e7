// `serve`: the depot (registry + package repository + files) in the foreground; `install` runs
// the same command as a systemd service on master1, always with --tls-cert/--tls-key and --repo-key
// (the keys given to it by systemd's LoadCredential=). Without them it serves plain, unsigned HTTP,
// which is for looking at a bundle locally: the nodes accept only the TLS depot and signed repositories.
import { readFileSync } from "node:fs";
import { startDepotServer } from "../../depot/server.ts";
import { parseEndpoint } from "../../depot/endpoint.ts";
import { createLogger } from "../../util/log.ts";
import { UsageError } from "../../util/errors.ts";
import { bundleInputs, type RunFlags } from "../run-inputs.ts";

type ServeFlags = RunFlags & { listen?: string; tlsCert?: string; tlsKey?: string; repoKey?: string };

/** A file the depot needs, read now so a wrong path is a clear usage error and not a failed start later. */
function readInput(path: string, flag: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`serve: cannot read ${flag} ${path} (${what}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, `give the ${what} file readable by this user`);
  }
}

export default async function serve(flags: ServeFlags): Promise<number> {
  const { bundleDir, depot } = bundleInputs(flags);
  const listen = flags.listen !== undefined ? parseEndpoint(flags.listen) : depot;
  if (!listen) throw new UsageError("serve needs --listen ADDR:PORT (or a cluster.yaml naming the depot)", "e.g. --listen 0.0.0.0:5000");
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new UsageError("serve: --tls-cert and --tls-key go together", "give both (HTTPS) or neither (plain HTTP, local use only)");
  const tls = flags.tlsCert !== undefined ? { cert: readInput(flags.tlsCert, "--tls-cert", "serving certificate"), key: readInput(flags.tlsKey!, "--tls-key", "serving key") } : undefined;
  const repoKey = flags.repoKey !== undefined ? readInput(flags.repoKey, "--repo-key", "repository signing key") : undefined;
  const log = createLogger({ logFile: flags.logFile, verbose: flags.verbose });
  if (!tls) log.warn("depot: serving plain HTTP (no --tls-cert/--tls-key): for local use only; the cluster's nodes accept only the TLS depot");
  const server = await startDepotServer({ bundleDir, listen, log, tls, repoKey });
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
