// The trust phase with DirHosts standing in for master1 and the nodes: it pushes the depot CA and the
// repository key's public half to every node (0644), says "nothing to do" once they are equal, rewrites
// a copy someone changed, and stops with a clear error when the depot phase has not made them yet.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trust } from "../../src/phases/trust.ts";
import type { PhaseContext } from "../../src/phases/phase.ts";
import type { HostSpec } from "../../src/config/types.ts";
import { planDepotPki } from "../../src/pki/index.ts";
import { generateRepoKey, type RepoKey } from "../../src/depot/repo-signing.ts";
import { NODE_DEPOT_CA, NODE_REPO_KEY_ASC, NODE_REPO_KEY_GPG } from "../../src/depot/trust-paths.ts";
import { repoKeyPath } from "../../src/phases/util/repo-key.ts";
import { PHASES } from "../../src/phases/index.ts";
import { DirHost } from "./support/dir-host.ts";
import { labCluster } from "./support/cluster-fixture.ts";
import { collectingLogger } from "./support/oci-fixture.ts";

const root = mkdtempSync(join(tmpdir(), "trust-phase-"));
const config = labCluster("/var/lib/k8s-ha-offline");
let key: RepoKey;
let caPem = "";

function context(stateFiles = true): { ctx: PhaseContext; nodes: Map<string, DirHost> } {
  const run = mkdtempSync(join(root, "run-"));
  const local = new DirHost(join(run, "master1-local"), "master1");
  if (stateFiles) {
    // DirHost.writeFile is synchronous underneath.
    void local.writeFile(`${config.stateDir}/pki/depot-ca.crt`, caPem, { mode: 0o644 });
    void local.writeFile(repoKeyPath(config.stateDir), key.privateArmored, { mode: 0o600 });
  }
  const nodes = new Map(config.hosts.map((h) => [h.name, new DirHost(join(run, h.name), h.name, h.address)]));
  const cache = new Map<string, unknown>();
  const ctx = {
    config,
    local,
    stateDir: config.stateDir,
    log: collectingLogger(),
    host: async (s: HostSpec) => nodes.get(s.name)!,
    once: <T>(k: string, make: () => T): T => (cache.has(k) ? (cache.get(k) as T) : (cache.set(k, make()), cache.get(k) as T)),
  } as unknown as PhaseContext;
  return { ctx, nodes };
}

beforeAll(async () => {
  [key, { caCertPem: caPem }] = await Promise.all([generateRepoKey("lab"), planDepotPki(config)]);
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("trust phase", () => {
  test("comes right after depot and runs on every node in parallel", () => {
    const names = PHASES.map((p) => p.name);
    expect(names.indexOf("trust")).toBe(names.indexOf("depot") + 1);
    expect(trust.mode).toBe("parallel");
    expect(trust.hosts(config).map((h) => h.name)).toEqual(config.hosts.map((h) => h.name));
  });

  test("writes the CA and both forms of the public key (0644), then has nothing to do", async () => {
    const { ctx, nodes } = context();
    for (const h of config.hosts) {
      expect(await trust.check(ctx, h)).toEqual({ todo: true, why: `${NODE_DEPOT_CA}, ${NODE_REPO_KEY_GPG}, ${NODE_REPO_KEY_ASC} missing or different` });
      await trust.run(ctx, h);
      expect(await trust.check(ctx, h)).toEqual({ todo: false });
    }
    const n = nodes.get("node1")!;
    expect(readFileSync(n.local(NODE_DEPOT_CA), "utf8")).toBe(caPem);
    expect(readFileSync(n.local(NODE_REPO_KEY_GPG)).equals(Buffer.from(key.publicBinary))).toBe(true);
    expect(readFileSync(n.local(NODE_REPO_KEY_ASC), "utf8")).toBe(key.publicArmored);
    expect(readFileSync(n.local(NODE_REPO_KEY_ASC), "utf8")).not.toContain("PRIVATE");
    for (const p of [NODE_DEPOT_CA, NODE_REPO_KEY_GPG, NODE_REPO_KEY_ASC]) expect(statSync(n.local(p)).mode & 0o777).toBe(0o644);
    // A second run writes nothing.
    const before = n.commands.length;
    await trust.run(ctx, config.hosts.find((h) => h.name === "node1")!);
    expect(n.commands.slice(before).filter((c) => !c.startsWith("readFile"))).toEqual([]);
  });

  test("a copy changed on a node is put back", async () => {
    const { ctx, nodes } = context();
    const h = config.hosts[0]!;
    await trust.run(ctx, h);
    writeFileSync(nodes.get(h.name)!.local(NODE_DEPOT_CA), "-----BEGIN CERTIFICATE-----\nimpostor\n");
    expect(await trust.check(ctx, h)).toEqual({ todo: true, why: `${NODE_DEPOT_CA} missing or different` });
    await trust.run(ctx, h);
    expect(readFileSync(nodes.get(h.name)!.local(NODE_DEPOT_CA), "utf8")).toBe(caPem);
  });

  test("before the depot phase made them: a clear error naming what is missing and what to run", async () => {
    const { ctx } = context(false);
    const err = await trust.check(ctx, config.hosts[0]!).catch((e) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      `trust: ${config.stateDir}/pki/depot-ca.crt and ${repoKeyPath(config.stateDir)} not found on master1; the depot-pki phase makes them: run install --only depot-pki,trust`,
    );
  });
});
