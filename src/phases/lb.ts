// Phase "lb": haproxy + keepalived on the control-plane nodes (section 三 of the reference guide in
// ../shared/seed/), with the guide's defects fixed: the traffic really passes haproxy (controlPlaneEndpoint = VIP:port),
// backends are health-checked on /readyz, secrets are generated, and the VRRP check asks haproxy.
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import { controlPlanes } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import type { PhaseContext } from "./phase.ts";
import { render } from "../templates/render.ts";
import haproxyTemplate from "../../assets/haproxy/haproxy.cfg" with { type: "text" };
import keepalivedTemplate from "../../assets/keepalived/keepalived.conf" with { type: "text" };
import checkScriptTemplate from "../../assets/keepalived/check_apiserver_lb.sh" with { type: "text" };
import { ensureService, unitState } from "../cluster/systemd.ts";
import { waitFor } from "../cluster/wait.ts";
import { APISERVER_PORT } from "../config/ports.ts";
import { secret } from "./util/secrets.ts";
import { stepsPhase, NOTHING, todo, type Step } from "./steps.ts";
import { sh, type ShellCommand } from "../util/sh.ts";
import { readText } from "./util/node.ts";

export const HAPROXY_CFG = "/etc/haproxy/haproxy.cfg";
export const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";
export const CHECK_SCRIPT = "/etc/keepalived/check_apiserver_lb.sh";
/** Made by the check script once an apiserver has answered (through this node's haproxy or the VIP): the cluster exists. */
export const APISERVER_ANSWERED_FLAG = "/etc/keepalived/k8s-ha-offline.apiserver-answered";

export function renderHaproxy(config: ClusterConfig, statsPassword: string, template = haproxyTemplate): string {
  const masters = controlPlanes(config);
  // Ready apiservers (/readyz over TLS) take the clients; the same servers checked at TCP level are the
  // fallback haproxy uses only while none is ready (see assets/haproxy/haproxy.cfg).
  const servers = masters.map((h) => `    server ${h.name} ${h.address}:${APISERVER_PORT} check check-ssl verify none`).join("\n");
  const reachableServers = masters.map((h) => `    server ${h.name} ${h.address}:${APISERVER_PORT} check`).join("\n");
  return render(template, { cluster: config.name, port: config.loadBalancer.port, servers, reachableServers, statsPort: config.loadBalancer.statsPort, statsPassword }, "haproxy.cfg");
}

/**
 * Priorities 250, 249, 248, ... in config order: the first control-plane node is the preferred holder.
 * High priorities make the skew time short ((256 - priority) / 256 advert intervals, about 0.02 s), which
 * is what a backup waits after the holder's priority-0 advert (keepalived stopped, or FAULT).
 */
export const TOP_PRIORITY = 250;

export function renderKeepalived(config: ClusterConfig, node: HostSpec, authPass: string, template = keepalivedTemplate, checkScript = CHECK_SCRIPT): string {
  const lb = config.loadBalancer;
  const masters = controlPlanes(config);
  const index = masters.findIndex((m) => m.name === node.name);
  const priority = TOP_PRIORITY - index;
  const peers = masters.filter((m) => m.name !== node.name);
  const unicast =
    lb.vrrpMode === "unicast"
      ? `    unicast_src_ip ${node.address}\n    unicast_peer {\n${peers.map((p) => `        ${p.address}`).join("\n")}\n    }`
      : "";
  return render(template, {
    cluster: config.name,
    vip: lb.vip,
    vipCidr: `${lb.vip}/${lb.vipPrefix ?? 32}`,
    checkScript,
    routerId: node.name,
    routerIdNum: lb.virtualRouterId,
    // With preemption a failing check lowers the priority below every healthy node (weight larger than
    // the spread); with nopreempt a lower priority would never move the VIP, so there a failing check
    // puts the node into FAULT instead (no weight).
    weight: lb.nopreempt ? "" : `    # a failing check drops the node below every healthy one\n    weight -${masters.length + 10}`,
    state: lb.nopreempt || index > 0 ? "BACKUP" : "MASTER",
    interface: lb.interface,
    priority,
    preempt: lb.nopreempt ? "    nopreempt" : "",
    authPass,
    unicast,
  }, "keepalived.conf");
}

export const renderCheckScript = (config: ClusterConfig, answered = APISERVER_ANSWERED_FLAG) =>
  render(checkScriptTemplate, { port: config.loadBalancer.port, vip: config.loadBalancer.vip, answered }, "check_apiserver_lb.sh");

/** Validate a config with the daemon's own parser at a temporary path; only a valid file replaces the live one. */
export async function validated(host: Host, path: string, content: string, mode: number, validate: (tmp: string) => ShellCommand): Promise<void> {
  const tmp = `${path}.k8s-ha-offline-new`;
  await host.writeFile(tmp, content, { mode });
  const r = await host.exec(validate(tmp), { check: false });
  if (r.code !== 0) {
    await host.exec(sh`rm -f ${tmp}`, { check: false });
    throw new Error(`the rendered ${path} was refused by its validator, the live file was left as it was:\n${(r.stderr || r.stdout).trim()}`);
  }
  await host.exec(sh`mv -f ${tmp} ${path}`);
}

export const haproxyCheckCmd = (file: string) => sh`haproxy -c -q -f ${file}`;
/** keepalived >= 2.0 can test a config (-t); 1.3 (CentOS 7) cannot, so there the parse happens at reload. */
export const keepalivedCheckCmd = (file: string) =>
  sh`if keepalived --help 2>&1 | grep -q -- '--config-test'; then keepalived -t -f ${file}; else true; fi`;

type Files = (ctx: PhaseContext, node: HostSpec) => Promise<[string, string, number, ((t: string) => ShellCommand) | null][]>;
type Live = (host: Host, ctx: PhaseContext) => Promise<boolean>;

const service = (unit: string, files: Files, live?: Live): Step => ({
  name: unit,
  async check(host, ctx, node) {
    for (const [path, content] of await files(ctx, node)) if ((await readText(host, path)) !== content) return todo(`${path} missing or different`);
    const s = await unitState(host, unit);
    if (!s.active || !s.enabled) return todo(`${unit} not running/enabled`);
    return !live || (await live(host, ctx)) ? NOTHING : todo(`${unit} runs but does not serve its configuration`);
  },
  async run(host, ctx, node) {
    // Not serving what is on disk (an earlier reload failed) counts as a change: reload again.
    let changed = live ? !(await live(host, ctx)) : false;
    for (const [path, content, mode, check] of await files(ctx, node)) {
      if ((await readText(host, path)) === content) continue;
      changed = true;
      await host.exec(sh`mkdir -p ${path.replace(/\/[^/]+$/, "")}`);
      if (check) await validated(host, path, content, mode, check);
      else await host.writeFile(path, content, { mode });
    }
    // Reload keeps established connections (haproxy) and the VIP (keepalived); a restart would not.
    await ensureService(host, unit, changed ? "reload" : "start");
    // A reload that fails leaves the old configuration serving while systemd says "reloaded":
    // ask the daemon itself whether the new one is live.
    if (live) await waitFor(`${unit} on ${node.name} to serve the new configuration`, () => live(host, ctx), 15_000, 500).catch(async (e) => {
      const j = await host.exec(sh`journalctl -u ${unit} -n 15 --no-pager`, { check: false });
      throw new Error(`${(e as Error).message}\n${j.stdout.trim()}`);
    });
  },
});

export const lb = stepsPhase({
  name: "lb",
  title: "haproxy (TCP, /readyz health checks) and keepalived (VIP, VRRP) on the control-plane nodes",
  hosts: controlPlanes,
  steps: [
    service(
      "haproxy.service",
      async (ctx) => [[HAPROXY_CFG, renderHaproxy(ctx.config, await secret(ctx, "haproxyStatsPassword")), 0o600, haproxyCheckCmd]],
      async (host, ctx) => (await host.exec(sh`ss -Htln ${`sport = :${ctx.config.loadBalancer.port}`}`, { check: false })).stdout.trim() !== "",
    ),
    service("keepalived.service", async (ctx, node) => [
      [CHECK_SCRIPT, renderCheckScript(ctx.config), 0o700, null],
      [KEEPALIVED_CONF, renderKeepalived(ctx.config, node, await secret(ctx, "keepalivedAuthPass")), 0o600, keepalivedCheckCmd],
    ]),
  ],
});
