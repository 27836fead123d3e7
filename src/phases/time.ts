// Phase "time": chrony everywhere. With no NTP server configured, master1 serves its clock to the
// other nodes (the reference guide in ../shared/seed/ does the same with ntpd and 127.127.1.0); etcd and TLS need agreeing clocks.
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import { firstMaster } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import { render } from "../templates/render.ts";
import chronyTemplate from "../../assets/chrony/chrony.conf" with { type: "text" };
import { installUnitFile, ensureService, unitState } from "../cluster/systemd.ts";
import { CHRONY_ORIGINAL_SUFFIX } from "../cluster/chrony-original.ts";
import { POLL_MS, waitFor } from "../cluster/wait.ts";
import { stepsPhase, NOTHING, todo, type Step } from "./steps.ts";
import { readText, inContainer } from "./util/node.ts";
import { findProfile } from "../profiles/index.ts";
import type { ChronyLayout } from "../profiles/profile.ts";
import { InstallError } from "../util/errors.ts";
import { sh } from "../util/sh.ts";

export function renderChrony(config: ClusterConfig, node: HostSpec): string {
  const master = firstMaster(config);
  const upstream = config.ntp.servers;
  const isServer = node.name === master.name && upstream.length === 0;
  const sources = upstream.length
    ? upstream.map((s) => `server ${s} iburst`).join("\n")
    : isServer
      ? "# No upstream NTP server: serve this node's clock to the cluster.\nlocal stratum 10"
      : `server ${master.address} iburst minpoll 4 maxpoll 6`;
  const serve = isServer ? config.hosts.filter((h) => h.name !== node.name).map((h) => `allow ${h.address}`).join("\n") : "";
  const role = isServer ? "time source of the cluster" : upstream.length ? "synchronised to the configured NTP servers" : `synchronised to ${master.name}`;
  return render(chronyTemplate, { cluster: config.name, role, sources, serve }, "chrony.conf");
}

/** Where chrony lives on the nodes: the OS profile says (preflight checked every node runs that OS). */
function layout(config: ClusterConfig): ChronyLayout {
  const profile = findProfile(config.bundle.profile);
  if (!profile) throw new InstallError(`bundle.profile ${config.bundle.profile} is not a profile this build knows`);
  return profile.chrony;
}

/**
 * A container may not set the (shared) clock: chronyd refuses to start there (ConditionCapability).
 * Run it with -x (never touch the clock) so it still tracks and serves time; the host kernel owns the clock.
 * "!" keeps the unit's own rule: chronyd starts with full privileges and drops to its user itself.
 */
const CONTAINER_DROPIN = `# Written by k8s-ha-offline: in a container the clock belongs to the host; track and serve time, do not set it.
[Unit]
ConditionCapability=

[Service]
ExecStart=
ExecStart=!/usr/sbin/chronyd $DAEMON_OPTS -x
`;

const dropInDir = (l: ChronyLayout) => `/etc/systemd/system/${l.unit}.d`;
const dropIn = (l: ChronyLayout) => `${dropInDir(l)}/k8s-ha-offline.conf`;

async function synced(host: Host, ctx: { config: ClusterConfig }, node: HostSpec): Promise<boolean> {
  const master = firstMaster(ctx.config);
  if (node.name === master.name && ctx.config.ntp.servers.length === 0) return true;
  const r = await host.exec(sh`chronyc -n sources`, { check: false });
  // "^*" marks the source chrony is synchronised to.
  return r.stdout.split("\n").some((l) => l.startsWith("^*"));
}

const chrony: Step = {
  name: "chrony",
  async check(host, ctx, node) {
    const l = layout(ctx.config);
    if ((await readText(host, l.conf)) !== renderChrony(ctx.config, node)) return todo(`${l.conf} missing or different`);
    if ((await inContainer(host)) && (await readText(host, dropIn(l))) !== CONTAINER_DROPIN) return todo("container drop-in missing");
    if (!(await unitState(host, l.unit)).active) return todo(`${l.unit} not running`);
    return (await synced(host, ctx, node)) ? NOTHING : todo("not synchronised yet");
  },
  async run(host, ctx, node) {
    const l = layout(ctx.config);
    await host.exec(sh`[ ! -f ${l.conf} ] || [ -e ${`${l.conf}${CHRONY_ORIGINAL_SUFFIX}`} ] || cp -p ${l.conf} ${`${l.conf}${CHRONY_ORIGINAL_SUFFIX}`}`); // reset puts it back
    let changed = await host.writeFile(l.conf, renderChrony(ctx.config, node), { mode: 0o644 });
    if (await inContainer(host)) {
      await host.exec(sh`mkdir -p ${dropInDir(l)}`);
      changed = (await installUnitFile(host, dropIn(l), CONTAINER_DROPIN)) || changed;
    }
    await ensureService(host, l.unit, changed ? "restart" : "start");
    await waitFor(`chrony on ${node.name} to synchronise`, () => synced(host, ctx, node), 90_000, POLL_MS);
  },
};

export const time = stepsPhase({
  name: "time",
  title: "Time sync with chrony: master1 serves time to the others unless NTP servers are configured",
  hosts: (c) => {
    // master1 first so the others find a server when they start.
    const m = firstMaster(c);
    return [m, ...c.hosts.filter((h) => h.name !== m.name)];
  },
  steps: [chrony],
});
