// Phase "binary": the first phase that changes a node. It marks the node as this cluster's (so a
// re-run's preflight knows the ports our own services hold are not a conflict, even when a run was
// killed right after starting the depot), then the executable copies itself to every node (only
// when the node's copy differs), so node-side helpers and the depot service run the very same build.
import { fileSha256 } from "../hosts/sha256.ts";
import { dirname } from "node:path";
import { sh } from "../util/sh.ts";
import { NOTHING, todo, stepsPhase, type Step } from "./steps.ts";
import type { PhaseContext } from "./phase.ts";
import { MARKER_FILE } from "./preflight/facts.ts";
import { markerFor } from "./preflight/checks.ts";
import { readText } from "./util/node.ts";

export const NODE_BINARY = "/usr/local/bin/k8s-ha-offline";

const ownSha = (ctx: PhaseContext) => ctx.once("binary:self-sha256", () => fileSha256(ctx.selfPath));

async function remoteSha(host: import("../hosts/host.ts").Host): Promise<string> {
  const r = await host.exec(sh`sha256sum ${NODE_BINARY} 2>/dev/null`, { check: false });
  return r.stdout.split(" ")[0] ?? "";
}

const marker: Step = {
  name: "marker",
  async check(host, ctx) {
    return (await readText(host, MARKER_FILE))?.trim() === markerFor(ctx.config) ? NOTHING : todo("node not yet marked as part of this cluster");
  },
  async run(host, ctx) {
    await host.exec(sh`mkdir -p ${dirname(MARKER_FILE)}`);
    await host.writeFile(MARKER_FILE, `${markerFor(ctx.config)}\n`, { mode: 0o644 });
  },
};

const copy: Step = {
  name: "copy",
  async check(host, ctx) {
    return (await remoteSha(host)) === (await ownSha(ctx)) ? NOTHING : todo("missing or a different build");
  },
  async run(host, ctx) {
    // upload checks the sha256 of what landed before it renames it into place (placeFileScript): a
    // second sha256sum of the whole executable here only cost every node another pass over 119 MB.
    await host.upload(ctx.selfPath, NODE_BINARY, { mode: 0o755, sha256: await ownSha(ctx) });
  },
};

export const binary = stepsPhase({
  name: "binary",
  title: `Mark every node as this cluster's and copy this executable to ${NODE_BINARY} where it differs (sha256)`,
  hosts: (c) => c.hosts,
  steps: [marker, copy],
});
