// The record of the packages an install added to a node: the packages phase writes it (names that
// were not installed before it ran, dependencies included), `reset --purge-packages` removes exactly
// those, so a node's own packages survive a reset.
import type { Host } from "../hosts/host.ts";
import { sh } from "../util/sh.ts";

export const PACKAGES_ADDED = "/var/lib/k8s-ha-offline-node/packages-added";

/** Every installed package's name, whatever the package manager. */
export async function installedPackageNames(host: Host): Promise<Set<string>> {
  const r = await host.exec(sh`{ dpkg-query -W -f=${"${db:Status-Abbrev} ${Package}\n"} 2>/dev/null | awk '$1 ~ /^ii/ {print $2}'; } || rpm -qa --qf '%{NAME}\n'`, { check: false, timeoutMs: 60_000 });
  return new Set(r.stdout.split("\n").map((l) => l.trim()).filter(Boolean));
}

/** Adds the names installed since `before` to the record (kept from earlier runs, sorted, unique). */
export async function recordPackagesAdded(host: Host, before: ReadonlySet<string>): Promise<void> {
  const added = [...(await installedPackageNames(host))].filter((n) => !before.has(n));
  const old = new TextDecoder().decode((await host.readFile(PACKAGES_ADDED)) ?? new Uint8Array()).split("\n").filter(Boolean);
  const all = [...new Set([...old, ...added])].sort();
  if (!all.length) return;
  await host.exec(sh`mkdir -p /var/lib/k8s-ha-offline-node`);
  await host.writeFile(PACKAGES_ADDED, `${all.join("\n")}\n`, { mode: 0o644 });
}
