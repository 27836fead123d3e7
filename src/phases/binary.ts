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
import { NODE_ETC_DIR } from "../depot/trust-paths.ts";
import type { Host } from "../hosts/host.ts";

export const NODE_BINARY = "/usr/local/bin/k8s-ha-offline";

/**
 * The node's proof that its copy was hashed (or placed) by us and not touched since: the sha256, then the
 * copy's size, mtime, ctime and inode. A re-run compares one stat with it instead of hashing 100+ MB on
 * every node (2 s a node on a busy lab, and every command that runs the phases paid it); a copy replaced
 * or written in place changes its ctime or inode and is hashed again. Removed with NODE_ETC_DIR by reset.
 */
export const BINARY_STAMP = `${NODE_ETC_DIR}/binary.verified`;
const STAT = "%s %Y %Z %i";

const ownSha = (ctx: PhaseContext) => ctx.once("binary:self-sha256", () => fileSha256(ctx.selfPath));

async function remoteSha(host: Host): Promise<string> {
  const r = await host.exec(sh`sha256sum ${NODE_BINARY} 2>/dev/null`, { check: false });
  return r.stdout.split(" ")[0] ?? "";
}

/** The copy's stat line ("" when there is none) and the stamp as the node holds it. */
async function copyState(host: Host): Promise<{ stat: string; stamp: string }> {
  const r = await host.exec(sh`stat -c ${STAT} -- ${NODE_BINARY} 2>/dev/null || echo; cat -- ${BINARY_STAMP} 2>/dev/null`, { check: false });
  const [stat = "", stamp = ""] = r.stdout.split("\n");
  return { stat: stat.trim(), stamp: stamp.trim() };
}

async function writeStamp(host: Host, sha256: string): Promise<void> {
  const { stat } = await copyState(host);
  await host.exec(sh`mkdir -p ${NODE_ETC_DIR}`);
  await host.writeFile(BINARY_STAMP, `${sha256} ${stat}\n`, { mode: 0o644 });
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
    const own = await ownSha(ctx);
    const { stat, stamp } = await copyState(host);
    if (stat && stamp === `${own} ${stat}`) return NOTHING;
    if (!stat) return todo("missing");
    return (await remoteSha(host)) === own ? todo("the same build, not yet stamped") : todo("a different build");
  },
  async run(host, ctx) {
    const own = await ownSha(ctx);
    // upload checks the sha256 of what landed before it renames it into place (placeFileScript): a
    // second sha256sum of the whole executable here only cost every node another pass over 119 MB.
    if ((await remoteSha(host)) !== own) await host.upload(ctx.selfPath, NODE_BINARY, { mode: 0o755, sha256: own });
    await writeStamp(host, own);
  },
};

export const binary = stepsPhase({
  name: "binary",
  title: `Mark every node as this cluster's and copy this executable to ${NODE_BINARY} where it differs (sha256)`,
  hosts: (c) => c.hosts,
  steps: [marker, copy],
});
