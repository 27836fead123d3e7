// Phase "packages": the nodes install the profile's packages from the depot on master1 and from
// nowhere else (the air-gapped site has no other repository that answers), at the locked versions.
import type { PhaseContext } from "./phase.ts";
import type { Host } from "../hosts/host.ts";
import { embeddedPackageManifest } from "../depot/embedded-manifests.ts";
import { renderAptSource, renderYumRepo } from "../depot/node-config.ts";
import { depotUrl } from "../depot/endpoint.ts";
import { hasRole, type HostSpec } from "../config/types.ts";
import { stepsPhase, NOTHING, todo, type Step } from "./steps.ts";
import { requireLock } from "./util/depot-files.ts";
import { shq } from "../hosts/shell-quote.ts";
import { InstallError } from "../util/errors.ts";

/** Only the control-plane nodes run the load balancer. */
const LB_ONLY = ["haproxy", "keepalived"];

export interface LockedPackage {
  name: string;
  version: string;
}

/**
 * The manifest's wanted packages at their pinned versions (dependencies come along from the same
 * depot repository); every one must also be a file of the lock, i.e. really in the bundle.
 */
export function lockedPackages(ctx: Pick<PhaseContext, "lock">, node: HostSpec): LockedPackage[] {
  const lock = requireLock(ctx);
  const manifest = embeddedPackageManifest(lock.profile);
  if (!manifest) throw new InstallError(`this build carries no package manifest for profile ${lock.profile}`);
  const inBundle = new Set(lock.files.filter((f) => f.kind === "deb" || f.kind === "rpm").map((f) => f.path.split("/").pop()));
  const out: LockedPackage[] = [];
  for (const name of manifest.wanted.filter((p) => hasRole(node, "control-plane") || !LB_ONLY.includes(p))) {
    const entry = manifest.packages.find((p) => p.name === name);
    if (!entry || !inBundle.has(entry.file)) throw new InstallError(`the ${lock.profile} bundle lacks package ${name}; re-assemble the bundle`);
    out.push({ name, version: entry.version });
  }
  return out;
}

const isDeb = (ctx: PhaseContext) => requireLock(ctx).files.some((f) => f.kind === "deb");
const APT_LIST = "/etc/apt/sources.list.d/k8s-ha-offline.list";
const YUM_REPO = "/etc/yum.repos.d/k8s-ha-offline.repo";
// apt/yum look only at the depot, whatever else the node has configured.
// An apt still running from an interrupted run (the installer killed, its SSH session gone) holds
// the dpkg lock for a while: wait for it rather than fail.
const APT_ONLY_DEPOT = `-o Dir::Etc::sourcelist=${APT_LIST} -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 -o DPkg::Lock::Timeout=300`;

export function repoFile(ctx: PhaseContext): { path: string; content: string } {
  const profile = requireLock(ctx).profile;
  return isDeb(ctx) ? { path: APT_LIST, content: renderAptSource(depotUrl(ctx.depot), profile) } : { path: YUM_REPO, content: renderYumRepo(depotUrl(ctx.depot), profile) };
}

async function installedVersions(host: Host, names: string[], deb: boolean): Promise<Map<string, string>> {
  const cmd = deb
    ? `dpkg-query -W -f='\${Package} \${Version} \${db:Status-Abbrev}\\n' ${names.map(shq).join(" ")} 2>/dev/null | awk '$3 ~ /^ii/ {print $1, $2}'`
    : `rpm -q --qf '%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n' ${names.map(shq).join(" ")} 2>/dev/null | grep -v 'not installed'`;
  const r = await host.exec(cmd, { check: false });
  return new Map(r.stdout.trim().split("\n").filter(Boolean).map((l) => l.split(" ") as [string, string]));
}

const repo: Step = {
  name: "depot-repo",
  async check(host, ctx) {
    const { path, content } = repoFile(ctx);
    const cur = await host.readFile(path);
    return cur && new TextDecoder().decode(cur) === content ? NOTHING : todo(`${path} missing or different`);
  },
  async run(host, ctx) {
    const { path, content } = repoFile(ctx);
    await host.writeFile(path, content, { mode: 0o644 });
  },
};

const install: Step = {
  name: "install",
  async check(host, ctx, node) {
    const pkgs = lockedPackages(ctx, node);
    const have = await installedVersions(host, pkgs.map((p) => p.name), isDeb(ctx));
    const off = pkgs.filter((p) => have.get(p.name) !== p.version);
    return off.length ? todo(`${off.map((p) => `${p.name} ${have.get(p.name) ?? "missing"} (want ${p.version})`).join(", ")}`) : NOTHING;
  },
  async run(host, ctx, node) {
    const pkgs = lockedPackages(ctx, node);
    const deb = isDeb(ctx);
    const cmd = deb
      ? // A node that lost power in the middle of dpkg needs its half-configured packages finished first.
        `export DEBIAN_FRONTEND=noninteractive; dpkg --configure -a --force-confdef --force-confold >/dev/null 2>&1; apt-get ${APT_ONLY_DEPOT} update -qq && ` +
        `apt-get ${APT_ONLY_DEPOT} install -y -qq --no-install-recommends --allow-downgrades ${pkgs.map((p) => shq(`${p.name}=${p.version}`)).join(" ")}`
      : `yum --disablerepo='*' --enablerepo=k8s-ha-offline install -y ${pkgs.map((p) => shq(`${p.name}-${p.version}`)).join(" ")}`;
    const r = await host.exec(cmd, { check: false, timeoutMs: 900_000 });
    if (r.code !== 0) throw new Error(`package installation from the depot failed:\n${(r.stderr || r.stdout).trim().split("\n").slice(-15).join("\n")}`);
    const have = await installedVersions(host, pkgs.map((p) => p.name), deb);
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
