// What a phase is. The ordered list of all phases lives in ./index.ts.
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import type { BundleLock } from "../depot/lock.ts";
import type { DepotEndpoint } from "../depot/endpoint.ts";
import type { Logger } from "../util/log.ts";

/** Everything a phase may use. Side effects go only through `host(...)`. */
export interface PhaseContext {
  config: ClusterConfig;
  /** Connected Host for a node of the config (connections are pooled by the runner). */
  host(spec: HostSpec): Promise<Host>;
  /**
   * The machine the binary runs on: the acting master (master1 normally, any surviving master when
   * master1 is gone — issue 16). The installer state, kubectl and the "local" phases work from here.
   */
  local: Host;
  /**
   * Nodes found down (SSH not answering) when a command that tolerates it started (add-node,
   * renew-certs, replace-node): the runner leaves them out, and phases that reach into other nodes
   * skip them. Absent or empty for install: an install reaches every node or fails.
   */
  down?: ReadonlySet<string>;
  /** Directory of the bundle (payload files) on this machine. */
  bundleDir: string;
  /** Installer state on this machine (/var/lib/k8s-ha-offline by default; the same on every master). */
  stateDir: string;
  /** The depot on master1 as the nodes reach it (its URL: depotUrl() of src/depot/endpoint.ts). */
  depot: DepotEndpoint;
  log: Logger;
  dryRun: boolean;
  /** Preflight check names downgraded to warnings (--ignore-preflight-errors); "all" for every one. */
  ignorePreflightErrors: string[];
  /** The lock embedded in this binary: what the bundle holds (null when built without a bundle). */
  lock: BundleLock | null;
  /** Path of the running executable (copied to the nodes). */
  selfPath: string;
  /**
   * The value under `key`, made by `make` the first time in this run and shared by every host after
   * that (this binary's sha256, the generated secrets). Caches live here, one per run, never in a module.
   */
  once<T>(key: string, make: () => T): T;
  /** Text shown after the phase's result line (e.g. the final nodes table), not in the middle of its progress. */
  report?(text: string): void;
}

/** What `check` found: nothing to do, something to do (with why), or a step that cannot apply here. */
export type CheckResult = { todo: false } | { todo: true; why: string } | { skip: string };

export interface Phase {
  /** Short id used by --only / --from, e.g. "etcd". */
  name: string;
  /** One line for people. */
  title: string;
  /** The nodes it applies to. */
  hosts(config: ClusterConfig): HostSpec[];
  /**
   * "parallel": check+run on every host at once (bounded fan-out);
   * "serial": one host after the other (e.g. control-plane joins);
   * "once": a single run for the whole phase, on its first host (kubeadm init on master1);
   * "local": a single run from the acting master (the machine the binary runs on, ctx.local), which
   *   reaches into the other hosts itself (PKI issued from the replicated CA, kubectl apply).
   */
  mode: "parallel" | "serial" | "once" | "local";
  /** Whether anything is left to do on this host (for "once": on the first host; look at all via ctx). */
  check(ctx: PhaseContext, node: HostSpec): Promise<CheckResult>;
  run(ctx: PhaseContext, node: HostSpec): Promise<void>;
}
