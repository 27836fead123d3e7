// replace-node's checks, which run before anything changes, against real etcd members on loopback
// (support/etcd-loopback.ts), DirHost nodes, and a TLS /readyz answering for m2's apiserver: NAME not in
// the config, NAME being this machine, NAME not answering SSH, NAME alive and healthy without --force,
// and removals that would cost etcd quorum — each refused with the member list unchanged.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { LoopbackEtcd } from "./support/etcd-loopback.ts";
import { labHost } from "./support/cluster-fixture.ts";
import { HostError, type Host } from "../../src/hosts/host.ts";
import type { HostSpec } from "../../src/config/types.ts";
import type { ClusterAccess } from "../../src/cluster/access.ts";
import { InstallError, UsageError } from "../../src/util/errors.ts";
import { isHealthy, planReplacement, replacementSteps } from "../../src/ops/replace-node.ts";

const etcd = new LoopbackEtcd((net) => [labHost("w1", `${net}.9`, ["worker"])]);
const { config, members, hosts } = etcd;
const down = new Set<string>();
const ctx: ClusterAccess = {
  config,
  local: hosts[0]!, // m1: the acting master
  stateDir: config.stateDir,
  host: async (spec: HostSpec): Promise<Host> => {
    if (down.has(spec.name)) throw new HostError(spec.name, `cannot reach ${spec.address}:22: connection timed out after 10s`);
    return hosts.find((h) => h.name === spec.name)!;
  },
};
let apiserver: ReturnType<typeof Bun.serve> | undefined;
const ids = async () => (await etcd.view()).members.map((m) => m.id).sort();

/** A CA at m1's /etc/kubernetes/pki/ca.crt and a serving certificate for m2's address: m2's apiserver answering /readyz. */
function serveReadyz(address: string) {
  const dir = join(etcd.root, "apiserver-pki");
  mkdirSync(dir, { recursive: true });
  const o = (...a: string[]) => {
    const r = spawnSync("openssl", a, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
  };
  o("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=kubernetes", "-days", "2");
  writeFileSync(join(dir, "ext"), `subjectAltName=IP:${address}\nextendedKeyUsage=serverAuth\n`);
  o("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "s.key", "-out", "s.csr", "-subj", "/CN=kube-apiserver");
  o("x509", "-req", "-in", "s.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "s.crt", "-days", "2", "-extfile", "ext");
  mkdirSync(hosts[0]!.local("/etc/kubernetes/pki"), { recursive: true });
  writeFileSync(hosts[0]!.local("/etc/kubernetes/pki/ca.crt"), readFileSync(join(dir, "ca.crt")));
  return Bun.serve({ hostname: address, port: 6443, tls: { cert: readFileSync(join(dir, "s.crt"), "utf8"), key: readFileSync(join(dir, "s.key"), "utf8") }, fetch: (req) => new Response(new URL(req.url).pathname === "/readyz" ? "ok" : "") });
}

beforeAll(async () => {
  await etcd.prepare();
  await Promise.all([0, 1, 2].map((i) => etcd.start(i)));
  apiserver = serveReadyz(members[1]!.address);
}, 120_000);
afterAll(() => {
  apiserver?.stop(true);
  etcd.stop();
});

test("healthy means SSH answers and every part the roles give is well", () => {
  expect(isHealthy({ etcd: { healthy: true }, apiserverReady: true })).toBe(true);
  expect(isHealthy({ etcd: { healthy: false }, apiserverReady: true })).toBe(false);
  expect(isHealthy({ etcd: { healthy: true }, apiserverReady: false })).toBe(false);
  expect(isHealthy({ nodeReady: true })).toBe(true);
  expect(isHealthy({ sshError: "cannot reach" })).toBe(false);
});

describe("refusals before anything changes", () => {
  test("a name the config does not have, and this machine itself: usage errors (exit 2)", async () => {
    await expect(planReplacement(ctx, "master9", { force: false })).rejects.toThrow(UsageError);
    await expect(planReplacement(ctx, "master9", { force: false })).rejects.toThrow(/master9 is not in test\/cluster\.yaml: nothing was changed/);
    await expect(planReplacement(ctx, "m1", { force: true })).rejects.toThrow(/m1 is the machine this runs on: nothing was changed/);
  });

  test("m2 alive and healthy (SSH, etcd member healthy, apiserver ready): refused without --force (exit 2); with --force it is planned", async () => {
    const before = await ids();
    const refused = planReplacement(ctx, "m2", { force: false });
    await expect(refused).rejects.toThrow(UsageError);
    await expect(planReplacement(ctx, "m2", { force: false })).rejects.toThrow(/m2 is alive and healthy \(SSH answers, its etcd member is healthy, its apiserver is ready\): nothing was changed/);
    const forced = await planReplacement(ctx, "m2", { force: true });
    expect({ forced: forced.forced, member: forced.etcd?.member.name }).toEqual({ forced: true, member: "m2" });
    expect(replacementSteps(forced)[0]).toMatch(/stop kubelet and etcd on m2, move \/var\/lib\/etcd aside, kubeadm reset \(it is alive: --force\)/);
    expect(await ids()).toEqual(before);
  }, 60_000);

  test("a replacement that does not answer SSH: refused naming its address (exit 1), nothing changed", async () => {
    down.add("m3");
    try {
      const p = planReplacement(ctx, "m3", { force: false });
      await expect(p).rejects.toThrow(InstallError);
      await expect(planReplacement(ctx, "m3", { force: false })).rejects.toThrow(new RegExp(`m3 \\(${members[2]!.address.replace(/\./g, "\\.")}\\) cannot be reached over SSH \\(cannot reach .*\\): nothing was changed. The replacement machine must be up first`));
    } finally {
      down.delete("m3");
    }
  }, 60_000);

  test("m3 dead (its etcd killed, the machine back): planned — its member removed, not forced", async () => {
    etcd.kill(2);
    const plan = await planReplacement(ctx, "m3", { force: false });
    expect({ forced: plan.forced, member: plan.etcd?.member.name, healthy: plan.etcd?.member.healthy, apiserver: plan.health.apiserverReady }).toEqual({ forced: false, member: "m3", healthy: false, apiserver: false });
    expect(replacementSteps(plan).join("\n")).toMatch(/remove etcd member [0-9a-f]+ \(m3, not healthy\) through m1\ndelete the Kubernetes node m3 \(when the API knows it\)\nrun the install phases: m3 installed fresh, added to etcd before its member starts, joined as a control plane/);
  }, 60_000);

  test("quorum: with m3 dead, the healthy m2 cannot go even with --force; with m2 dead too, m3's member cannot go (no quorum); nothing changed", async () => {
    const before = await ids();
    await expect(planReplacement(ctx, "m2", { force: true })).rejects.toThrow(/m2's etcd member [0-9a-f]+ cannot be removed: removing the healthy member m2 would leave 1 healthy of 2 members, fewer than their quorum of 2: etcd would stop \(not healthy now: m3\)\. Nothing was changed/);
    etcd.kill(1);
    const refused = planReplacement(ctx, "m3", { force: false });
    await expect(refused).rejects.toThrow(InstallError);
    await expect(planReplacement(ctx, "m3", { force: false })).rejects.toThrow(/m3's etcd member [0-9a-f]+ cannot be removed: etcd has no quorum: 0 of 3 members are healthy, 2 are needed/);
    await etcd.start(1, false);
    expect(await ids()).toEqual(before);
  }, 120_000);
});

describe("the command line", () => {
  test("replace-node of a host the config does not have: exit 2 before any node is contacted; --help names --force", async () => {
    const { runCliInProcess } = await import("./support/run-cli.ts");
    const cfg = join(import.meta.dir, "fixtures/config/good/lab.yaml");
    const r = await runCliInProcess(["replace-node", "master9", "-c", cfg, "--yes"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/master9 is not in .*lab\.yaml: nothing was changed/);
    const help = Bun.spawnSync([process.execPath, join(import.meta.dir, "../../src/cli.ts"), "replace-node", "--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout.toString()).toMatch(/k8s-ha-offline replace-node <name>[\s\S]*--force/);
  });
});

describe("the replacement itself", () => {
  test("m3 dead: its member removed through m1, its Node deleted; the etcd phase's join then brings it back 3/3", async () => {
    const { executeReplacement } = await import("../../src/ops/replace-node.ts");
    const { prepareEtcdJoin } = await import("../../src/cluster/etcd-members.ts");
    const { recordJoin } = await import("../../src/cluster/etcd-service.ts");
    // kubectl is the API's client, not under test here: a recording stand-in on m1 knowing m1..m3.
    const m1 = hosts[0]!;
    mkdirSync(m1.local("/fakebin"), { recursive: true });
    const calls = m1.local("/kubectl-calls");
    writeFileSync(m1.local("/fakebin/kubectl"), `#!/bin/sh\necho "$*" >> ${calls}\ncase "$*" in *"get nodes -o name"*) printf 'node/m1\\nnode/m2\\nnode/m3\\n';; esac\n`, { mode: 0o755 });
    m1.binDir = "/fakebin";
    try {
      etcd.kill(2);
      const plan = await planReplacement(ctx, "m3", { force: false });
      const said: string[] = [];
      await executeReplacement(ctx, plan, (l) => said.push(l));
      expect(said).toEqual([`etcd: member ${plan.etcd!.member.id} (m3) removed`, "m3: Kubernetes node deleted"]);
      expect(readFileSync(calls, "utf8")).toMatch(/delete node m3/);
      expect((await etcd.view()).members.map((m) => m.name).sort()).toEqual(["m1", "m2"]);
      // The install's etcd phase on the wiped m3: added, started with state existing, healthy with the others.
      rmSync(hosts[2]!.local("/var/lib/etcd/member"), { recursive: true, force: true });
      const j = await prepareEtcdJoin({ host: hosts[2]!, node: members[2]!, members });
      expect(j).toMatchObject({ kind: "join", did: "added to the running cluster (member add)" });
      if (j.kind === "join") await recordJoin(hosts[2]!, j.initialCluster);
      await etcd.start(2);
      expect((await etcd.view()).members.map((m) => [m.name, m.healthy]).sort()).toEqual([["m1", true], ["m2", true], ["m3", true]]);
    } finally {
      m1.binDir = undefined;
    }
  }, 180_000);
});
