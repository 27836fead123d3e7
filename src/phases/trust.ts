// Phase "trust": every node gets what lets it trust the depot and nothing else — the depot CA (TLS) and
// the public half of the repository signing key, binary for apt's signed-by= and armored for yum/dnf's
// gpgkey= — pushed over the SSH channel whose host key was checked, never fetched from the network
// (whoever answers at the depot's address must not be the one who says what to trust).
import type { Phase, PhaseContext } from "./phase.ts";
import type { Host } from "../hosts/host.ts";
import { NOTHING, todo } from "./steps.ts";
import { NODE_DEPOT_CA, NODE_ETC_DIR, NODE_REPO_KEY_ASC, NODE_REPO_KEY_GPG } from "../depot/trust-paths.ts";
import { depotCaStatePaths } from "../pki/depot-pki.ts";
import { readRepoKey, repoKeyPath } from "./util/repo-key.ts";
import { InstallError } from "../util/errors.ts";
import { sh } from "../util/sh.ts";

type TrustFile = { path: string; content: Uint8Array };

/** The three files, from master1's state dir (made by the depot-pki phase); read once per run. */
function trustFiles(ctx: PhaseContext): Promise<TrustFile[]> {
  return ctx.once("trust-files", async () => {
    const caPath = depotCaStatePaths(ctx.stateDir).cert;
    const ca = await ctx.local.readFile(caPath);
    const key = await readRepoKey(ctx);
    const missing = [...(ca ? [] : [caPath]), ...(key ? [] : [repoKeyPath(ctx.stateDir)])];
    if (!ca || !key) throw new InstallError(`trust: ${missing.join(" and ")} not found on master1; the depot-pki phase makes them: run install --only depot-pki,trust`);
    return [
      { path: NODE_DEPOT_CA, content: ca },
      { path: NODE_REPO_KEY_GPG, content: key.publicBinary },
      { path: NODE_REPO_KEY_ASC, content: new TextEncoder().encode(key.publicArmored) },
    ];
  });
}

const equal = (a: Uint8Array | null, b: Uint8Array) => a !== null && Buffer.from(a).equals(Buffer.from(b));

async function differing(host: Host, ctx: PhaseContext): Promise<TrustFile[]> {
  const out: TrustFile[] = [];
  for (const f of await trustFiles(ctx)) if (!equal(await host.readFile(f.path), f.content)) out.push(f);
  return out;
}

export const trust: Phase = {
  name: "trust",
  title: "Depot CA and repository key (public) on every node, over SSH: what apt, yum, containerd, docker and curl verify the depot with",
  hosts: (c) => c.hosts,
  mode: "parallel",
  async check(ctx, node) {
    const off = await differing(await ctx.host(node), ctx);
    return off.length ? todo(`${off.map((f) => f.path).join(", ")} missing or different`) : NOTHING;
  },
  async run(ctx, node) {
    const host = await ctx.host(node);
    const off = await differing(host, ctx);
    if (off.length === 0) return;
    await host.exec(sh`mkdir -p ${NODE_ETC_DIR} && chmod 755 ${NODE_ETC_DIR}`);
    // Public material: readable by every user (the package managers' sandboxes included), written by root only.
    for (const f of off) await host.writeFile(f.path, f.content, { mode: 0o644 });
  },
};
