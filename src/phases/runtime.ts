// Phase "runtime": containerd (+ runc, CNI plugins) from the bundle's static tarballs, systemd
// cgroups, and every upstream registry the images name mirrored to the depot (the reference guide in
// ../shared/seed/ had to "localise" docker by hand so that pulls would not become a nightmare).
import type { Host } from "../hosts/host.ts";
import type { PhaseContext } from "./phase.ts";
import { render } from "../templates/render.ts";
import configTemplate from "../../assets/containerd/config.toml" with { type: "text" };
import unitTemplate from "../../assets/containerd/containerd.service" with { type: "text" };
import { renderContainerdHostsToml, containerdHostsDir, renderDockerDaemonJson, dockerRegistryCaPath } from "../depot/node-config.ts";
import { depotCaStatePaths } from "../pki/depot-pki.ts";
import { depotUrl, depotsFor, endpointHostPort } from "../depot/endpoint.ts";
import type { HostSpec } from "../config/types.ts";
import dockerUnitTemplate from "../../assets/docker/docker.service" with { type: "text" };
import type { LockFile } from "../depot/lock.ts";
import { installUnitFile, ensureService, unitState } from "../cluster/systemd.ts";
import { lockedFile, requireLock } from "./util/depot-files.ts";
import { installTarball, tarballInstalled } from "./util/tarball.ts";
import { stepsPhase, firstNotOk, NOTHING, todo, type Step } from "./steps.ts";
import { InstallError } from "../util/errors.ts";
import { readText } from "./util/node.ts";
import { pinNodeImages, snapshotterOf, unpinnedNodeImages } from "./util/images.ts";
import { dirname } from "node:path";
import { sh, type ShellCommand } from "../util/sh.ts";

const ARCH = "(amd64|arm64)";
/**
 * Where the runtime binaries come from: containerd's release tarball (bin/...) plus runc.<arch>,
 * or docker's static tarball (docker/...: dockerd, containerd, runc, ctr), as the reference guide used.
 */
type RuntimeSource = { kind: "containerd"; tgz: LockFile; runc: LockFile } | { kind: "docker"; tgz: LockFile };

function runtimeSource(ctx: PhaseContext): RuntimeSource {
  const lock = requireLock(ctx);
  const find = (re: RegExp) => lock.files.find((f) => re.test(f.path));
  const docker = find(/^files\/docker-[\d.]+\.tgz$/);
  const containerd = find(new RegExp(`^files/containerd-[\\w.~+-]+-linux-${ARCH}\\.tar\\.gz$`));
  if (ctx.config.kubernetes.runtime === "docker" || !containerd) {
    if (!docker) throw new InstallError(`the ${lock.profile} bundle has no ${ctx.config.kubernetes.runtime} runtime tarball; re-assemble the bundle`);
    return { kind: "docker", tgz: docker };
  }
  return { kind: "containerd", tgz: containerd, runc: lockedFile(ctx, new RegExp(`^files/runc\\.${ARCH}$`), "runc binary") };
}
const cniTgz = (ctx: PhaseContext) => lockedFile(ctx, new RegExp(`^files/cni-plugins-linux-${ARCH}-v[\\w.]+\\.tgz$`), "CNI plugins tarball");
const dockerRuntime = (ctx: PhaseContext) => ctx.config.kubernetes.runtime === "docker";

/** Registries named by the bundle's images, plus the depot itself (kubeadm's imageRepository). */
export function mirroredRegistries(ctx: PhaseContext): string[] {
  const hosts = requireLock(ctx).images.map((i) => {
    const first = i.ref.split("/")[0]!;
    return first.includes(".") || first.includes(":") ? first : "docker.io";
  });
  return [...new Set([...hosts, endpointHostPort(ctx.depot)])].sort();
}

/** kubeadm pulls from <depot>/google_containers, so the pause image must be named the same way. */
export function sandboxImage(ctx: PhaseContext): string {
  const pause = requireLock(ctx).images.find((i) => /\/pause:[\w.-]+$/.test(i.ref));
  if (!pause) throw new InstallError(`the ${requireLock(ctx).profile} bundle has no pause image; re-assemble the bundle`);
  return `${endpointHostPort(ctx.depot)}/google_containers/pause:${pause.ref.split(":").pop()}`;
}

/** The depot CA from master1's state dir (the depot phase made it; the trust phase gave every node the same). */
async function depotCa(ctx: PhaseContext): Promise<string> {
  const path = depotCaStatePaths(ctx.stateDir).cert;
  const ca = await ctx.local.readFile(path);
  if (!ca) throw new InstallError(`${path} not found on master1; the depot-pki phase makes it: run install --only depot-pki,depot,trust`);
  return new TextDecoder().decode(ca);
}

async function wantedFiles(host: Host, ctx: PhaseContext, node: HostSpec): Promise<[string, string][]> {
  const snapshotter = await snapshotterOf(host);
  const files: [string, string][] = [
    ["/etc/systemd/system/containerd.service", render(unitTemplate, {}, "containerd.service")],
    ["/etc/containerd/config.toml", render(configTemplate, { cluster: ctx.config.name, sandboxImage: sandboxImage(ctx), snapshotter }, "config.toml")],
  ];
  // Every depot, this node's own first (src/depot/endpoint.ts says why that order); the registry named
  // after master1's depot (kubeadm's imageRepository) is listed too, so its images come from another
  // master's depot while master1 is down.
  const depots = depotsFor(ctx.config, node.name);
  for (const reg of mirroredRegistries(ctx))
    files.push([`${containerdHostsDir(reg)}/hosts.toml`, renderContainerdHostsToml(reg, depots.map(depotUrl))]);
  if (dockerRuntime(ctx)) {
    const ca = await depotCa(ctx);
    files.push(
      ["/etc/systemd/system/docker.service", render(dockerUnitTemplate, {}, "docker.service")],
      ["/etc/docker/daemon.json", renderDockerDaemonJson(depots.map(endpointHostPort), snapshotter === "native" ? "vfs" : "overlay2")],
      ...depots.map((d): [string, string] => [dockerRegistryCaPath(endpointHostPort(d)), ca]),
    );
  }
  return files;
}

/** Payloads to put in place, each with its install command ($TARBALL is the fetched file). */
function payloads(ctx: PhaseContext): [string, LockFile, ShellCommand][] {
  const src = runtimeSource(ctx);
  const cni: [string, LockFile, ShellCommand] = ["cni-plugins", cniTgz(ctx), sh`mkdir -p /opt/cni/bin && tar -xzf "$TARBALL" -C /opt/cni/bin`];
  if (src.kind === "containerd")
    return [
      ["containerd", src.tgz, sh`tar -xzf "$TARBALL" -C /usr/local`],
      ["runc", src.runc, sh`install -m 0755 "$TARBALL" /usr/local/sbin/runc`],
      cni,
    ];
  // docker's static tarball carries containerd and runc too; dockerd itself only when docker is the runtime.
  const docker = dockerRuntime(ctx) ? ["dockerd", "docker", "docker-init", "docker-proxy"] : [];
  return [
    ["docker-static", src.tgz, sh`d=$(mktemp -d); tar -xzf "$TARBALL" -C "$d"; for b in containerd containerd-shim containerd-shim-runc-v2 ctr ${docker}; do [ ! -e "$d/docker/$b" ] || install -m 0755 "$d/docker/$b" /usr/local/bin/; done; install -m 0755 "$d/docker/runc" /usr/local/sbin/runc; rm -rf "$d"`],
    cni,
  ];
}

const binaries: Step = {
  name: "binaries",
  async check(host, ctx) {
    const missing = await firstNotOk(payloads(ctx), ([name, f]) => tarballInstalled(host, name, f));
    return missing ? todo(`${missing[1].path} not installed`) : NOTHING;
  },
  async run(host, ctx) {
    for (const [name, f, cmd] of payloads(ctx)) if (!(await tarballInstalled(host, name, f))) await installTarball(host, ctx, name, f, cmd);
  },
};

const service: Step = {
  name: "containerd",
  async check(host, ctx, node) {
    const [stray, containerd, docker] = await Promise.all([
      wantedFiles(host, ctx, node).then((files) => firstNotOk(files, async ([p, c]) => (await readText(host, p)) === c)),
      unitState(host, "containerd.service"),
      dockerRuntime(ctx) ? unitState(host, "docker.service") : undefined,
    ]);
    if (stray) return todo(`${stray[0]} missing or different`);
    if (!containerd.active) return todo("containerd not running");
    if (docker && !docker.active) return todo("docker not running");
    return NOTHING;
  },
  async run(host, ctx, node) {
    let changed = false;
    for (const [p, c] of await wantedFiles(host, ctx, node)) {
      await host.exec(sh`mkdir -p ${dirname(p)}`);
      changed = (p.endsWith(".service") ? await installUnitFile(host, p, c) : await host.writeFile(p, c, { mode: 0o644 })) || changed;
    }
    await ensureService(host, "containerd.service", changed ? "restart" : "start");
    const v = await host.exec(sh`/usr/local/bin/ctr version`, { check: false, timeoutMs: 20_000 });
    if (v.code !== 0) throw new Error(`containerd runs but does not answer ctr version: ${v.stderr.trim()}`);
    if (dockerRuntime(ctx)) {
      await ensureService(host, "docker.service", changed ? "restart" : "start");
      const d = await host.exec(sh`/usr/local/bin/docker info --format '{{.CgroupDriver}}'`, { check: false, timeoutMs: 30_000 });
      if (d.stdout.trim() !== "systemd") throw new Error(`docker runs but reports cgroup driver "${d.stdout.trim() || d.stderr.trim()}", want systemd`);
    }
  },
};

/**
 * The images this node's kubelet will run, pulled by the bundle lock's digests and named as kubeadm and
 * the kubelet ask for them (src/cluster/images.ts): nothing is ever pulled by tag, so a depot impostor
 * that retags an image cannot get it into the store. A name someone retagged is moved back.
 */
const images: Step = {
  name: "images",
  async check(host, ctx, node) {
    const wrong = await unpinnedNodeImages(ctx, host, node);
    return wrong.length ? todo(`${wrong.map((i) => i.name).join(", ")} missing or not the bundle lock's digest`) : NOTHING;
  },
  async run(host, ctx, node) {
    await pinNodeImages(ctx, host, node);
  },
};

export const runtime = stepsPhase({
  name: "runtime",
  title: "containerd (or docker) + runc + CNI plugins from the bundle tarballs, systemd cgroups, registries mirrored to the depot, images pinned to the lock",
  hosts: (c) => c.hosts,
  steps: [binaries, service, images],
});
