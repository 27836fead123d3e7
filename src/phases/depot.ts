// Phase "depot": the binary serves the bundle from master1 as a systemd service, so the nodes
// can pull images and packages during install and whenever a node is added later.
import type { Phase } from "./phase.ts";
import { firstMaster } from "../config/types.ts";
import { render } from "../templates/render.ts";
import unitTemplate from "../../assets/systemd/k8s-ha-offline-depot.service" with { type: "text" };
import { installUnitFile, ensureService, unitState } from "../cluster/systemd.ts";
import { waitFor } from "../cluster/wait.ts";
import { NOTHING, todo } from "./steps.ts";
import { NODE_BINARY } from "./binary.ts";
import type { PhaseContext } from "./phase.ts";
import { sh } from "../util/sh.ts";
import { systemdArg } from "../util/systemd-escape.ts";
import { depotUrl, endpointHostPort } from "../depot/endpoint.ts";

export const DEPOT_UNIT = "k8s-ha-offline-depot.service";

const unitFor = (ctx: PhaseContext) =>
  render(unitTemplate, {
    cluster: ctx.config.name,
    // ExecStart is parsed by systemd: each value must stay one argument, with % and $ taken literally.
    binary: systemdArg(NODE_BINARY),
    bundleDir: systemdArg(ctx.bundleDir),
    listen: systemdArg(endpointHostPort(ctx.depot)),
  }, "k8s-ha-offline-depot.service");

/** The service still runs a binary that the binary phase has since replaced. */
async function runsStaleBinary(ctx: PhaseContext): Promise<boolean> {
  const r = await ctx.local.exec(sh`pid=$(systemctl show -p MainPID --value ${DEPOT_UNIT}); [ "$pid" -gt 0 ] && readlink /proc/$pid/exe`, { check: false });
  return r.stdout.includes("(deleted)");
}

const answers = async (url: string) => (await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) }).catch(() => null))?.status === 200;

export const depot: Phase = {
  name: "depot",
  title: "Serve the bundle from master1 (registry /v2/, packages /repo/, files /files/) as a systemd service",
  hosts: (c) => [firstMaster(c)],
  mode: "once",
  async check(ctx) {
    const cur = await ctx.local.readFile(`/etc/systemd/system/${DEPOT_UNIT}`);
    if (!cur || new TextDecoder().decode(cur) !== unitFor(ctx)) return todo("depot service not installed or different");
    if (!(await unitState(ctx.local, DEPOT_UNIT)).active) return todo("depot service not running");
    if (await runsStaleBinary(ctx)) return todo("depot runs an older build of the binary");
    if (!(await answers(depotUrl(ctx.depot)))) return todo(`depot does not answer at ${depotUrl(ctx.depot)}`);
    return NOTHING;
  },
  async run(ctx) {
    await ctx.local.exec(sh`mkdir -p /var/log/k8s-ha-offline`);
    const changed = await installUnitFile(ctx.local, `/etc/systemd/system/${DEPOT_UNIT}`, unitFor(ctx));
    // A new build of the binary is a change too: the binary phase just replaced it.
    await ensureService(ctx.local, DEPOT_UNIT, changed || (await runsStaleBinary(ctx)) ? "restart" : "start");
    await waitFor(`the depot at ${depotUrl(ctx.depot)}/v2/`, () => answers(depotUrl(ctx.depot)), 30_000);
  },
};
