// Phase "packages": the nodes install the profile's packages from the depot on master1 and from
// nowhere else (the air-gapped site has no other repository that answers), at the locked versions.
import type { PhaseContext } from "./phase.ts";
import type { Host } from "../hosts/host.ts";
import { findProfile, type OsProfile } from "../profiles/index.ts";
import { embeddedManifests } from "../profiles/manifests.ts";
import type { PinnedPackage } from "../profiles/profile.ts";
import { depotUrl, depotsFor } from "../depot/endpoint.ts";
import { hasRole, type HostSpec } from "../config/types.ts";
import { stepsPhase, NOTHING, todo, type Step } from "./steps.ts";
import { requireLock } from "./util/depot-files.ts";
import { InstallError } from "../util/errors.ts";
import { packagesBefore, packagesRecordMissing, recordPackagesAdded } from "../cluster/packages-added.ts";

/** Only the control-plane nodes run the load balancer. */
const LB_ONLY = ["haproxy", "keepalived"];

/** The profile the bundle was assembled for: its packages are the ones in the depot. */
function bundleProfile(ctx: Pick<PhaseContext, "lock">): OsProfile {
  const { profile } = requireLock(ctx);
  const found = findProfile(profile);
  if (!found) throw new InstallError(`this build carries no package manifest for profile ${profile}`);
  return found;
}

/**
 * The manifest's wanted packages at their pinned versions (dependencies come along from the same
 * depot repository); every one must also be a file of the lock, i.e. really in the bundle.
 */
function lockedPackages(ctx: Pick<PhaseContext, "lock">, node: HostSpec): PinnedPackage[] {
  const lock = requireLock(ctx);
  const profile = bundleProfile(ctx);
  const manifest = embeddedManifests(profile).packages;
  const inBundle = new Set(lock.files.filter((f) => f.kind === profile.packageManager.format).map((f) => f.path.split("/").pop()));
  const out: PinnedPackage[] = [];
  for (const name of manifest.wanted.filter((p) => hasRole(node, "control-plane") || !LB_ONLY.includes(p))) {
    const entry = manifest.packages.find((p) => p.name === name);
    if (!entry || !inBundle.has(entry.file)) throw new InstallError(`the ${lock.profile} bundle lacks package ${name}; re-assemble the bundle`);
    out.push({ name, version: entry.version });
  }
  return out;
}

/** The repository files naming every depot (this node's own first) and what verifies them, written together. */
function repoFiles(ctx: PhaseContext, node: HostSpec): { path: string; content: string }[] {
  const { packageManager: pm, name } = bundleProfile(ctx);
  return pm.repoFiles(depotsFor(ctx.config, node.name).map(depotUrl), name);
}

async function installedVersions(host: Host, ctx: PhaseContext, names: string[]): Promise<Map<string, string>> {
  const r = await host.exec(bundleProfile(ctx).packageManager.installed(names), { check: false });
  return new Map(r.stdout.trim().split("\n").filter(Boolean).map((l) => l.split(" ") as [string, string]));
}

const repo: Step = {
  name: "depot-repo",
  async check(host, ctx, node) {
    for (const { path, content } of repoFiles(ctx, node)) {
      const cur = await host.readFile(path);
      if (!cur || new TextDecoder().decode(cur) !== content) return todo(`${path} missing or different`);
    }
    return NOTHING;
  },
  async run(host, ctx, node) {
    for (const { path, content } of repoFiles(ctx, node)) await host.writeFile(path, content, { mode: 0o644 });
  },
};

const install: Step = {
  name: "install",
  async check(host, ctx, node) {
    const pkgs = lockedPackages(ctx, node);
    const have = await installedVersions(host, ctx, pkgs.map((p) => p.name));
    const off = pkgs.filter((p) => have.get(p.name) !== p.version);
    if (off.length) return todo(`${off.map((p) => `${p.name} ${have.get(p.name) ?? "missing"} (want ${p.version})`).join(", ")}`);
    // A run cut during apt installed the packages but never wrote what it added (reset --purge-packages reads it).
    return (await packagesRecordMissing(host)) ? todo("the record of the packages the install added is missing") : NOTHING;
  },
  async run(host, ctx, node) {
    const pkgs = lockedPackages(ctx, node);
    const before = await packagesBefore(host);
    const r = await host.exec(bundleProfile(ctx).packageManager.install(pkgs), { check: false, timeoutMs: 900_000 });
    await recordPackagesAdded(host, before); // what reset --purge-packages may remove
    if (r.code !== 0) throw new Error(`package installation from the depot failed:\n${(r.stderr || r.stdout).trim().split("\n").slice(-15).join("\n")}`);
    const have = await installedVersions(host, ctx, pkgs.map((p) => p.name));
    const off = pkgs.filter((p) => have.get(p.name) !== p.version);
    if (off.length) throw new Error(`after installation, not at the locked version: ${off.map((p) => `${p.name} ${have.get(p.name) ?? "missing"} (want ${p.version})`).join(", ")}`);
  },
};

export const packages = stepsPhase({
  name: "packages",
  title: "Point every node at the depot's package repository (and nothing else) and install the locked packages",
  hosts: (c) => c.hosts,
  steps: [repo, install],
});
