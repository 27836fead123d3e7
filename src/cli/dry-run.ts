// What `install --dry-run` checks before saying the plan can run: everything that can be known
// without changing anything anywhere. The real install would stop at each of these, some only after
// the [y/N] question or halfway through; the dry run lists them all at once (exit 1).
import { accessSync, constants, existsSync } from "node:fs";
import { Socket } from "node:net";
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import { controlPlanes, firstMaster } from "../config/types.ts";
import { REPLICATED_KEY } from "../hosts/credentials.ts";
import { join } from "node:path";
import type { BundleLock } from "../depot/lock.ts";
import { verifyBundle } from "../depot/verify.ts";
import { machineAddresses } from "../hosts/pool.ts";

export interface DryRunInputs {
  config: ClusterConfig;
  bundleDir: string;
  lock: BundleLock | null;
  /** This machine's addresses (tests pass their own). */
  localAddresses?: readonly string[];
  /** Whether a TCP connection to address:port opens (tests pass their own). */
  portOpen?: (address: string, port: number, timeoutMs: number) => Promise<boolean>;
  /**
   * Only what this machine can tell at once (lock, bundle directory, profile, keys, master1): the real
   * install asks this before its [y/N], and hashes the bundle and meets the nodes after it.
   */
  localOnly?: boolean;
}

/** Opens and closes a TCP connection: no SSH handshake, so no host key is recorded (nothing changes). */
export function tcpPortOpen(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("error", () => done(false));
    s.connect(port, address, () => done(true));
  });
}

const readable = (path: string) => {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
};

/** Every problem found, one line each; [] when the install can start. */
export async function dryRunProblems(input: DryRunInputs): Promise<string[]> {
  const { config, bundleDir, lock } = input;
  const problems: string[] = [];
  if (!lock)
    problems.push("bundle lock: this binary carries none (built without a bundle); build it with `bun run build.ts bundle --profile <profile>` on a connected machine (docs/operator.md)");
  else {
    if (lock.profile !== config.bundle.profile)
      problems.push(`bundle profile: ${config.source} says bundle.profile ${config.bundle.profile}, this binary was built for ${lock.profile}; set bundle.profile: ${lock.profile} or use the binary built for ${config.bundle.profile}`);
    if (lock.kubernetesVersion && lock.kubernetesVersion !== config.kubernetes.version)
      problems.push(`kubernetes version: ${config.source} says ${config.kubernetes.version}, the bundle holds ${lock.kubernetesVersion}; set kubernetes.version: ${lock.kubernetesVersion}`);
    if (!existsSync(bundleDir)) problems.push(`bundle directory ${bundleDir} does not exist: copy bundle-${lock.profile}/ next to the binary, or pass --bundle DIR`);
    else if (!input.localOnly) {
      const res = await verifyBundle(bundleDir, lock, { concurrency: 8 });
      if (res.problems.length)
        problems.push(
          `bundle ${bundleDir}: ${res.problems.length} file(s) do not match the lock (run verify-bundle for the list), e.g. ${res.problems
            .slice(0, 3)
            .map((p) => `${p.path}: ${p.problem}`)
            .join("; ")}`,
        );
    }
  }
  const keys = new Map<string, string[]>();
  for (const h of config.hosts) if (h.ssh.keyFile) keys.set(h.ssh.keyFile, [...(keys.get(h.ssh.keyFile) ?? []), h.name]);
  const local = new Set(input.localAddresses ?? machineAddresses());
  // The acting master: master1, or after the install any master (each holds the state, issue 16).
  const master = controlPlanes(config).find((h) => local.has(h.address)) ?? firstMaster(config);
  const onMaster = local.has(master.address);
  // On another master the configured key file is master1's path: the replicated copy stands in for it.
  const replicated = existsSync(join(config.stateDir, REPLICATED_KEY));
  for (const [key, hosts] of keys) {
    // The master this runs on is worked on locally; the key matters only for the others.
    const users = hosts.filter((n) => n !== master.name || !onMaster);
    if (users.length && !readable(key) && !(replicated && !existsSync(key)))
      problems.push(`SSH key ${key} (for ${users.join(", ")}) ${existsSync(key) ? "is not readable by this user (run as root)" : "does not exist"}: create it and copy its .pub to the nodes (docs/operator.md, "SSH key")`);
  }
  if (!onMaster)
    problems.push(`this machine is not a control-plane node: none of its addresses is ${controlPlanes(config).map((h) => `${h.address} (${h.name})`).join(", ")}; run the install on master1 (${firstMaster(config).address})`);
  else if (!input.localOnly) {
    const portOpen = input.portOpen ?? tcpPortOpen;
    const remote = config.hosts.filter((h: HostSpec) => !local.has(h.address));
    const closed = (await Promise.all(remote.map(async (h) => ((await portOpen(h.address, h.ssh.port, 3000)) ? undefined : h)))).filter((h): h is HostSpec => h !== undefined);
    for (const h of closed) problems.push(`SSH: ${h.name} (${h.address}:${h.ssh.port}) does not answer; check the address, that sshd runs and that no firewall drops port ${h.ssh.port}`);
  }
  return problems;
}
