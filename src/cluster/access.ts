// What cluster operations need from a run: the config, master1 (where this binary, the installer's
// state and the admin kubeconfig are) and a way to reach the other nodes. The phases' context and
// the ops commands' sessions both have these.
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";

export interface ClusterAccess {
  config: ClusterConfig;
  /** Connected Host for a node of the config. */
  host(spec: HostSpec): Promise<Host>;
  /** The machine this binary runs on: the acting master (master1 unless it is gone). */
  local: Host;
  /** Installer state on this machine (replicated to every master). */
  stateDir: string;
  /** Nodes left out of this run because they were down when it started. */
  down?: ReadonlySet<string>;
}
