// Phase "runtime": containerd (+ runc, CNI plugins) from the bundle's static tarballs, systemd
// cgroups, and every upstream registry the images name mirrored to the depot (the seed had to
// "localise" docker by hand so that pulls would not become a nightmare).
import type { Host } from "../hosts/host.ts";
import type { PhaseContext } from "./phase.ts";
import { render } from "../templates/render.ts";
import configTemplate from "../../assets/containerd/config.toml" with { type: "text" };
import unitTemplate from "../../assets/containerd/containerd.service" with { type: "text" };
import { renderContainerdHostsToml, containerdHostsDir } from "../depot/node-config.ts";
import { installUnitFile, ensureService, unitState } from "./util/systemd.ts";
import { lockedFile, requireLock } from "./util/depot-files.ts";
import { installTarball, tarballInstalled } from "./util/tarball.ts";
import { stepsPhase, NOTHING, todo, type Step } from "./steps.ts";
import { InstallError } from "../cli/errors.ts";
import { readText, inContainer } from "./util/node.ts";

const ARCH = "(amd64|arm64)";
const containerdTgz = (ctx: PhaseContext) => lockedFile(ctx, new RegExp(`^files/containerd-[\\w.~+-]+-linux-${ARCH}\\.tar\\.gz$`), "containerd tarball");
const runcBin = (ctx: PhaseContext) => lockedFile(ctx, new RegExp(`^files/runc\\.${ARCH}$`), "runc binary");
const cniTgz = (ctx: PhaseContext) => lockedFile(ctx, new RegExp(`^files/cni-plugins-linux-${ARCH}-v[\\w.]+\\.tgz$`), "CNI plugins tarball");

export const depotHost = (ctx: Pick<PhaseContext, "depotUrl">) => ctx.depotUrl.replace(/^https?:\/\//, "");

/** Registries named by the bundle's images, plus the depot itself (kubeadm's imageRepository). */
export function mirroredRegistries(ctx: PhaseContext): string[] {
  const hosts = requireLock(ctx).images.map((i) => {
    const first = i.ref.split("/")[0]!;
    return first.includes(".") || first.includes(":") ? first : "docker.io";
  });
  return [...new Set([...hosts, depotHost(ctx)])].sort();
}

/** kubeadm pulls from <depot>/google_containers, so the pause image must be named the same way. */
export function sandboxImage(ctx: PhaseContext): string {
  const pause = requireLock(ctx).images.find((i) => /\/pause:[\w.-]+$/.test(i.ref));
  if (!pause) throw new InstallError(`the ${requireLock(ctx).profile} bundle has no pause image; re-assemble the bundle`);
  return `${depotHost(ctx)}/google_containers/pause:${pause.ref.split(":").pop()}`;
}

async function wantedFiles(host: Host, ctx: PhaseContext): Promise<[string, string][]> {
  // overlayfs cannot stack on the overlay root of a container: there the native snapshotter is the one that works.
  const snapshotter = (await inContainer(host)) ? "native" : "overlayfs";
  const files: [string, string][] = [
    ["/etc/systemd/system/containerd.service", render(unitTemplate, {}, "containerd.service")],
    ["/etc/containerd/config.toml", render(configTemplate, { cluster: ctx.config.name, sandboxImage: sandboxImage(ctx), snapshotter }, "config.toml")],
  ];
  for (const reg of mirroredRegistries(ctx))
    files.push([`${containerdHostsDir(reg)}/hosts.toml`, renderContainerdHostsToml(reg, ctx.depotUrl)]);
  return files;
}

const binaries: Step = {
  name: "binaries",
  async check(host, ctx) {
    const pending = [["containerd", containerdTgz(ctx)], ["runc", runcBin(ctx)], ["cni-plugins", cniTgz(ctx)]] as const;
    for (const [name, f] of pending) if (!(await tarballInstalled(host, name, f))) return todo(`${f.path} not installed`);
    return NOTHING;
  },
  async run(host, ctx) {
    if (!(await tarballInstalled(host, "containerd", containerdTgz(ctx))))
      await installTarball(host, ctx, "containerd", containerdTgz(ctx), `tar -xzf "$TARBALL" -C /usr/local`);
    if (!(await tarballInstalled(host, "runc", runcBin(ctx))))
      await installTarball(host, ctx, "runc", runcBin(ctx), `install -m 0755 "$TARBALL" /usr/local/sbin/runc`);
    if (!(await tarballInstalled(host, "cni-plugins", cniTgz(ctx))))
      await installTarball(host, ctx, "cni-plugins", cniTgz(ctx), `mkdir -p /opt/cni/bin && tar -xzf "$TARBALL" -C /opt/cni/bin`);
  },
};

const service: Step = {
  name: "containerd",
  async check(host, ctx) {
    for (const [p, c] of await wantedFiles(host, ctx)) if ((await readText(host, p)) !== c) return todo(`${p} missing or different`);
    if (!(await unitState(host, "containerd.service")).active) return todo("containerd not running");
    return NOTHING;
  },
  async run(host, ctx) {
    let changed = false;
    for (const [p, c] of await wantedFiles(host, ctx)) {
      await host.exec(`mkdir -p ${p.replace(/\/[^/]+$/, "")}`);
      changed = (p.endsWith(".service") ? await installUnitFile(host, p, c) : await host.writeFile(p, c, { mode: 0o644 })) || changed;
    }
    await ensureService(host, "containerd.service", changed ? "restart" : "start");
    const v = await host.exec("/usr/local/bin/ctr version", { check: false, timeoutMs: 20_000 });
    if (v.code !== 0) throw new Error(`containerd runs but does not answer ctr version: ${v.stderr.trim()}`);
  },
};

export const runtime = stepsPhase({
  name: "runtime",
  title: "containerd + runc + CNI plugins from the bundle tarballs, systemd cgroups, registries mirrored to the depot",
  hosts: (c) => c.hosts,
  steps: [binaries, service],
});
