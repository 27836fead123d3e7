// Phase "binary": the executable copies itself to every node (only when the node's copy differs),
// so node-side helpers and the depot service run the very same build.
import type { Phase } from "./phase.ts";
import { fileSha256 } from "../hosts/sha256.ts";
import { NOTHING, todo } from "./steps.ts";

export const NODE_BINARY = "/usr/local/bin/k8s-ha-offline";

let selfSha: Promise<string> | undefined;
const ownSha = (path: string) => (selfSha ??= fileSha256(path));

async function remoteSha(host: import("../hosts/host.ts").Host): Promise<string> {
  const r = await host.exec(`sha256sum ${NODE_BINARY} 2>/dev/null`, { check: false });
  return r.stdout.split(" ")[0] ?? "";
}

export const binary: Phase = {
  name: "binary",
  title: `Copy this executable to ${NODE_BINARY} on every node where it differs (sha256)`,
  hosts: (c) => c.hosts,
  mode: "parallel",
  async check(ctx, node) {
    const host = await ctx.host(node);
    return (await remoteSha(host)) === (await ownSha(ctx.selfPath)) ? NOTHING : todo("missing or a different build");
  },
  async run(ctx, node) {
    const host = await ctx.host(node);
    await host.upload(ctx.selfPath, NODE_BINARY, { mode: 0o755 });
    if ((await remoteSha(host)) !== (await ownSha(ctx.selfPath))) throw new Error(`${NODE_BINARY} does not match after upload`);
  },
};
