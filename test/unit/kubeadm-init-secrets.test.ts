// stateDir/kubeadm/init.yaml holds the bootstrap token and the certificate key only while kubeadm
// reads it: written for the command, rewritten without them after it (failed or not), and a copy
// left with them by a cut run is cleaned by the post phase.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DirHost } from "./support/dir-host.ts";
import { labCluster } from "./support/cluster-fixture.ts";
import type { PhaseContext } from "../../src/phases/phase.ts";
import { initConfigHoldsSecrets, initConfigPath, scrubInitConfig, scrubbedInitConfig, withInitConfig } from "../../src/phases/util/kubeadm.ts";
import { renderInitConfig } from "../../src/phases/util/kubeadm-config.ts";
import { post } from "../../src/phases/post.ts";

const root = mkdtempSync(join(tmpdir(), "init-secrets-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TOKEN = "q7w2e9.k3m8n1p5r6t0v4x2";
const KEY = "9f".repeat(32);
const warnings: string[] = [];

function context(version = "1.28.2"): { ctx: PhaseContext; file: string } {
  const local = new DirHost(mkdtempSync(join(root, "master1-")), "master1");
  const config = labCluster();
  config.kubernetes.version = version;
  const ctx = {
    config,
    local,
    stateDir: config.stateDir,
    depot: { address: "10.77.0.11", port: 5000 },
    log: { info() {}, debug() {}, warn: (m: string) => warnings.push(m) },
  } as unknown as PhaseContext;
  return { ctx, file: local.local(initConfigPath(ctx)) };
}

for (const version of ["1.28.2", "1.31.1"])
  test(`init.yaml has the secrets while kubeadm runs and loses them after (${version})`, async () => {
    const { ctx, file } = context(version);
    let during = "";
    await withInitConfig(ctx, { token: TOKEN, certificateKey: KEY }, async (path) => {
      expect(path).toBe(initConfigPath(ctx));
      during = readFileSync(file, "utf8");
    });
    expect(during).toContain(`token: "${TOKEN}"`);
    expect(during).toContain(`certificateKey: "${KEY}"`);
    expect(initConfigHoldsSecrets(during)).toBe(true);
    const after = readFileSync(file, "utf8");
    // What the security sweep greps for: neither secret, nor the token's secret half.
    for (const s of [TOKEN, TOKEN.split(".")[1]!, KEY]) expect(after).not.toContain(s);
    expect(initConfigHoldsSecrets(after)).toBe(false);
    expect(after).toBe(scrubbedInitConfig(ctx));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Everything else of the configuration stays, for reference.
    const strip = (t: string) => t.split("\n").filter((l) => !/token: "|certificateKey: "|^#/.test(l)).join("\n");
    expect(strip(after)).toBe(strip(renderInitConfig(ctx.config, ctx.config.hosts[0]!, { token: TOKEN, certificateKey: KEY }, "10.77.0.11:5000/google_containers")));
  });

test("a failing kubeadm still leaves init.yaml without the secrets, and its own error is the one reported", async () => {
  const { ctx, file } = context();
  const err = await withInitConfig(ctx, { token: TOKEN, certificateKey: KEY }, async () => {
    throw new Error("kubeadm init failed on master1: preflight");
  }).catch((e) => e);
  expect((err as Error).message).toBe("kubeadm init failed on master1: preflight");
  expect(readFileSync(file, "utf8")).not.toContain(KEY);
});

test("post: a copy left with the secrets by a cut run is a todo, and its run removes them", async () => {
  const { ctx, file } = context();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, renderInitConfig(ctx.config, ctx.config.hosts[0]!, { token: TOKEN, certificateKey: KEY }, "10.77.0.11:5000/google_containers"), { mode: 0o600 });
  const found = await post.check(ctx, ctx.config.hosts[0]!);
  expect(found).toEqual({ todo: true, why: `${initConfigPath(ctx)} still holds the bootstrap token or the certificate key (a run was cut during kubeadm)` });
  // post.run's first step (the rest of it needs a cluster).
  expect(await scrubInitConfig(ctx)).toBe(true);
  const after = readFileSync(file, "utf8");
  const next = await post.check(ctx, ctx.config.hosts[0]!).catch((e: Error) => ({ failed: e.message }));
  expect(JSON.stringify(next)).not.toContain("init.yaml");
  expect(after).not.toContain(TOKEN);
  expect(after).not.toContain(KEY);
  expect(initConfigHoldsSecrets(after)).toBe(false);
});
