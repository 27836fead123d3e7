// What a command runs against, worked out once from the flags and the config: the config, the bundle
// directory and the depot's endpoint. Every command takes them from here, so install, serve and
// verify-bundle cannot disagree about which bundle or which address.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { CONFIG_COPY } from "../cluster/state-replica.ts";
import { loadConfig } from "../config/load.ts";
import type { ClusterConfig } from "../config/types.ts";
import { depotEndpoint, type DepotEndpoint } from "../depot/endpoint.ts";
import { embeddedLock } from "../depot/lock.ts";
import { DEPOT_BUNDLE_DIR } from "../depot/bundle-copy.ts";
import { UsageError } from "../util/errors.ts";
import type { GlobalFlags } from "./flags.ts";

export interface RunFlags extends GlobalFlags {
  bundle?: string;
}

export interface RunInputs<F extends RunFlags = RunFlags> {
  flags: F;
  config: ClusterConfig;
  bundleDir: string;
  depot: DepotEndpoint;
}

/** serve and verify-bundle also work from a bundle alone, when there is no cluster.yaml. */
export type BundleOnlyInputs<F extends RunFlags = RunFlags> = Omit<RunInputs<F>, "config" | "depot"> & { config?: undefined; depot?: undefined };

const DEFAULT_CONFIG = "cluster.yaml";
/** The schema's default stateDir: where a master keeps its copy of the config (a custom stateDir needs -c). */
export const DEFAULT_STATE_DIR = "/var/lib/k8s-ha-offline";

/**
 * --config; else ./cluster.yaml; else, when there is none here, the copy every master keeps in the
 * state dir (src/cluster/state-replica.ts), so `status` on master2 needs no arguments.
 */
export function configPath(flags: GlobalFlags, stateDir = DEFAULT_STATE_DIR): string {
  const given = flags.config ?? DEFAULT_CONFIG;
  if (given !== DEFAULT_CONFIG || existsSync(given)) return resolve(given);
  const copy = join(stateDir, CONFIG_COPY);
  return existsSync(copy) ? copy : resolve(given);
}

/** The config named by --config (see configPath for the default). */
export function readConfig(flags: GlobalFlags): ClusterConfig {
  return loadConfig(configPath(flags), { insecureSkipHostKeyCheck: flags.insecureSkipHostKeyCheck === true });
}

/** The inputs of a run against a cluster; `config` is read from --config unless given. */
export function runInputs<F extends RunFlags>(flags: F, config: ClusterConfig = readConfig(flags)): RunInputs<F> {
  return { flags, config, bundleDir: bundleDirFor(flags, config), depot: depotEndpoint(config) };
}

/** For serve and verify-bundle: the config when its file exists, else the bundle directory alone. */
export function bundleInputs<F extends RunFlags>(flags: F): RunInputs<F> | BundleOnlyInputs<F> {
  return existsSync(configPath(flags)) ? runInputs(flags) : { flags, bundleDir: bundleDirFor(flags, undefined) };
}

/**
 * --bundle, else bundle.dir of the config (./bundle-<profile> beside it) — or, on a master where that
 * directory is not (the command runs on master2 from the replicated config), the verified copy its
 * depot serves (issue 16) — else ./bundle-<profile of this binary's lock>.
 */
function bundleDirFor(flags: RunFlags, config: ClusterConfig | undefined): string {
  if (flags.bundle) return resolve(flags.bundle);
  if (config) return !existsSync(config.bundle.dir) && existsSync(DEPOT_BUNDLE_DIR) ? DEPOT_BUNDLE_DIR : config.bundle.dir;
  const lock = embeddedLock();
  if (lock) return resolve(`bundle-${lock.profile}`);
  throw new UsageError(
    `no bundle directory: there is no ${flags.config ?? "cluster.yaml"} naming bundle.dir`,
    "pass --bundle DIR (the bundle-<profile> directory), or --config with a cluster.yaml",
  );
}
