// Phase "time": chrony everywhere. With no NTP server configured the masters serve their clock to the
// other nodes (the reference guide in ../shared/seed/ does it from master1 alone with ntpd and 127.127.1.0;
// here any master may die, so they do it together in chrony's orphan mode); etcd and TLS need agreeing clocks.
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import { controlPlanes } from "../config/types.ts";
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

/**
 * Without NTP servers every master serves the cluster's time (issue 16: no single master1): the masters
 * run chrony's orphan mode (`local stratum 10 orphan`) and peer with each other, so they agree on one of
 * them and another takes over when it dies; every other node uses all masters as servers.
 */
export function renderChrony(config: ClusterConfig, node: HostSpec): string {
  const upstream = config.ntp.servers;
  const masters = controlPlanes(config);
  const isServer = upstream.length === 0 && masters.some((m) => m.name === node.name);
  const sources = upstream.length
    ? upstream.map((s) => `server ${s} iburst`).join("\n")
    : isServer
      ? [
          "# No upstream NTP server: the masters serve the cluster's time together (orphan mode: one leads, the others follow it).",
          "local stratum 10 orphan",
          ...masters.filter((m) => m.name !== node.name).map((m) => `peer ${m.address} iburst minpoll 4 maxpoll 6`),
        ].join("\n")
      : masters.map((m) => `server ${m.address} iburst minpoll 4 maxpoll 6`).join("\n");
  const serve = isServer ? config.hosts.filter((h) => h.name !== node.name).map((h) => `allow ${h.address}`).join("\n") : "";
  const role = isServer ? "a time source of the cluster (with the other masters)" : upstream.length ? "synchronised to the configured NTP servers" : "synchronised to the masters";
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
  if (ctx.config.ntp.servers.length === 0 && controlPlanes(ctx.config).some((m) => m.name === node.name)) {
    // A master in orphan mode is synchronised when it follows a peer or leads with its own clock: either
    // way chrony's leap status is Normal ("Not synchronised" before it settled).
    const t = await host.exec(sh`chronyc -n tracking`, { check: false });
    return /^Leap status\s*:\s*Normal/m.test(t.stdout);
  }
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
  title: "Time sync with chrony: the masters serve time together (orphan mode) unless NTP servers are configured",
  hosts: (c) => {
    // The masters first so the others find a server when they start.
    const masters = controlPlanes(c);
    return [...masters, ...c.hosts.filter((h) => !masters.includes(h))];
  },
  steps: [chrony],
});
