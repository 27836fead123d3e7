// systemd units on a node: install a unit file, read its state, make it run.
import type { Host } from "../hosts/host.ts";
import { sh } from "../util/sh.ts";

/** Write a unit (or drop-in) file; daemon-reload only when it changed. Returns whether it changed. */
export async function installUnitFile(host: Host, path: string, content: string): Promise<boolean> {
  const changed = await host.writeFile(path, content, { mode: 0o644 });
  if (changed) await host.exec(sh`systemctl daemon-reload`);
  return changed;
}

export async function unitState(host: Host, unit: string): Promise<{ active: boolean; enabled: boolean }> {
  const r = await host.exec(sh`systemctl is-active ${unit}; systemctl is-enabled ${unit}`, { check: false });
  const [active, enabled] = r.stdout.trim().split("\n");
  return { active: active === "active", enabled: enabled === "enabled" };
}

/**
 * Make a unit enabled and running. `restart` when its config changed; `reload` when the service can
 * re-read its config without dropping connections (haproxy, keepalived).
 */
export async function ensureService(host: Host, unit: string, how: "start" | "restart" | "reload" = "start"): Promise<void> {
  const s = await unitState(host, unit);
  if (!s.enabled) await host.exec(sh`systemctl enable ${unit}`);
  if (!s.active) await host.exec(sh`systemctl start ${unit}`);
  else if (how === "restart") await host.exec(sh`systemctl restart ${unit}`);
  else if (how === "reload") await host.exec(sh`systemctl reload ${unit}`);
  // Right after a start or reload systemd may still say "activating"/"reloading": let it settle.
  let after = await unitState(host, unit);
  for (let i = 0; i < 40 && !after.active; i++) {
    const state = (await host.exec(sh`systemctl is-active ${unit}`, { check: false })).stdout.trim();
    if (state === "failed" || state === "inactive") break;
    await Bun.sleep(250);
    after = await unitState(host, unit);
  }
  if (!after.active) {
    const j = await host.exec(sh`journalctl -u ${unit} -n 20 --no-pager`, { check: false });
    throw new Error(`${unit} did not start:\n${j.stdout.trim()}`);
  }
}
