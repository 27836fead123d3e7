// The record of the packages an install added to a node: the packages phase writes it (names that
// were not installed before it ran, dependencies included), `reset --purge-packages` removes exactly
// those, so a node's own packages survive a reset.
import type { Host } from "../hosts/host.ts";
import { sh } from "../util/sh.ts";

export const PACKAGES_ADDED = "/var/lib/k8s-ha-offline-node/packages-added";
/**
 * The packages the node had before the install first touched them, written once before the first package
 * manager run: a run cut in the middle of apt leaves packages installed that a resumed run no longer
 * installs, and only this snapshot still tells they were ours.
 */
export const PACKAGES_BEFORE = "/var/lib/k8s-ha-offline-node/packages-before";
const NODE_DIR = "/var/lib/k8s-ha-offline-node";

const lines = (b: Uint8Array | null) => new TextDecoder().decode(b ?? new Uint8Array()).split("\n").filter(Boolean);

/** The snapshot of what the node had before the install (taken now if there is none yet). */
export async function packagesBefore(host: Host): Promise<Set<string>> {
  const kept = await host.readFile(PACKAGES_BEFORE);
  if (kept) return new Set(lines(kept));
  const now = await installedPackageNames(host);
  await host.exec(sh`mkdir -p -m 0755 ${NODE_DIR}`);
  await host.writeFile(PACKAGES_BEFORE, `${[...now].sort().join("\n")}\n`, { mode: 0o644 });
  return now;
}

/** Whether the record is missing while the snapshot says the install has begun (an interrupted run). */
export async function packagesRecordMissing(host: Host): Promise<boolean> {
  return (await host.readFile(PACKAGES_BEFORE)) !== null && (await host.readFile(PACKAGES_ADDED)) === null;
}

/** Every installed package's name, whatever the package manager. */
export async function installedPackageNames(host: Host): Promise<Set<string>> {
  const r = await host.exec(sh`{ dpkg-query -W -f=${"${db:Status-Abbrev} ${Package}\n"} 2>/dev/null | awk '$1 ~ /^ii/ {print $2}'; } || rpm -qa --qf '%{NAME}\n'`, { check: false, timeoutMs: 60_000 });
  return new Set(r.stdout.split("\n").map((l) => l.trim()).filter(Boolean));
}

/** Adds the names installed since `before` to the record (kept from earlier runs, sorted, unique; written even when empty). */
export async function recordPackagesAdded(host: Host, before: ReadonlySet<string>): Promise<void> {
  const added = [...(await installedPackageNames(host))].filter((n) => !before.has(n));
  const all = [...new Set([...lines(await host.readFile(PACKAGES_ADDED)), ...added])].sort();
  await host.exec(sh`mkdir -p -m 0755 ${NODE_DIR}`);
  await host.writeFile(PACKAGES_ADDED, all.length ? `${all.join("\n")}\n` : "", { mode: 0o644 });
}
