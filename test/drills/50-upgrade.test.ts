// Issue 18: the offline Kubernetes upgrade with a new bundle, the API serving throughout.
// 1. The cluster at 1.22.2 from bundle A (dist/bundle-debian12; a lab already upgraded by an earlier run
//    is brought up fresh first). Bundle B (1.23.17) and C (1.24.17) with their binaries copied to /root on master1.
// 2. Refusals before any change, each checked to have changed nothing: C (a skipped minor, exit 2), B
//    with another profile in its lock (exit 2), B with one byte of a payload changed (exit 2), an etcd
//    member stopped (exit 1).
// 3. `upgrade plan --bundle B` prints the plan; `upgrade apply --bundle B --yes` with a 0.2 s TLS prober on
//    node1 and an etcd writer on master3, SIGKILLed three times (during the bundle/runtime stage, during
//    master2's control plane, during node1) and re-run each time; the last run finishes, one more says
//    nothing to do. Then: every kubelet at 1.23.17 and schedulable, the stand-in's records show
//    `kubeadm upgrade apply` on master1 then `upgrade node` on master2, master3 (never two at once) and
//    node1 drained before its kubelet restarted and uncordoned after; the binary on every node is B's,
//    every master's depot serves B (A kept as bundle.previous), check-certs shows the renewed apiserver
//    certificate; no prober gap longer than 5 s and no acknowledged write lost.
// 4. A downgrade (binary A, bundle A) is refused with exit 2.
// Rows go to dist/drills.jsonl (report.ts). Pending: written for the lab, not run yet.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { labExec, run, LAB_SCRIPT } from "../lab/lab-client.ts";
import { onMaster1, deploy, forgetDeployment, NODES, MASTERS } from "../e2e/support.ts";
import { parseRecords, type InvocationRecord } from "../kube-standin/lib/records.ts";
import { GRACE_S, gapNote, judgeProbes, lostWrites, nowOn, startProber, startWriter } from "./load.ts";
import { killRun, startOnMaster1, waitText, type LiveRun } from "./live.ts";
import { UPGRADE_BUNDLES, binaryBeside } from "./upgrade-bundles.ts";
import { recordDrill, drillTable, type DrillRow } from "./report.ts";

const [[B_VERSION, B_DIR], [, C_DIR]] = UPGRADE_BUNDLES as [[string, string], [string, string]];
const TARGET = `v${B_VERSION}`;
const name = (p: string) => p.split("/").pop()!;
const B = name(B_DIR), C = name(C_DIR);
const BIN_B = name(binaryBeside(B_DIR)), BIN_C = name(binaryBeside(C_DIR));
const RUN = `drill50-${Date.now()}`;
const KUBECTL = "kubectl --kubeconfig /etc/kubernetes/admin.conf";
const rows: DrillRow[] = [];
const row = (r: DrillRow) => (rows.push(r), recordDrill(r));

/** The new binary on master1 (from /root), as the operator runs it. */
const withB = (args: string, timeoutMs = 1_800_000) => labExec("master1", `cd /root && ./${BIN_B} ${args}`, { timeoutMs });

async function clusterVersion(): Promise<string> {
  const r = await labExec("master1", `${KUBECTL} -n kube-system get cm kubeadm-config -o json`);
  if (r.code !== 0) return "";
  return /kubernetesVersion: (\S+)/.exec(JSON.parse(r.stdout).data.ClusterConfiguration)?.[1] ?? "";
}

/** What a refused command must leave as it was: the cluster's version, the depot copies' lock, no upgrade record. */
async function untouched(): Promise<string> {
  const locks = await Promise.all(MASTERS.map((m) => labExec(m, "sha256sum /var/lib/k8s-ha-offline-depot/bundle/lock.json | cut -c1-16")));
  const rec = await labExec("master1", "test -e /var/lib/k8s-ha-offline/upgrade.json && echo upgrade.json");
  return `${await clusterVersion()} ${locks.map((l) => l.stdout.trim()).join(",")} ${rec.stdout.trim()}`;
}

async function copyToMaster1(src: string, dst: string) {
  if (!existsSync(src)) throw new Error(`${src} is missing: test/run-tests.ts builds it (bun run build.ts bundle --profile debian12 --kubernetes ... --out ...)`);
  const r = await run([LAB_SCRIPT, "cp-to", "master1", src, dst], 600_000);
  if (r.code !== 0) throw new Error(`copying ${src} to master1 failed: ${r.stderr}`);
}

beforeAll(async () => {
  await deploy();
  const v = await clusterVersion();
  if (v && v !== "v1.22.2") {
    // An earlier run upgraded this lab: start from a fresh one at 1.22.2.
    for (const args of [["down"], ["up", "--nodes", "5"]]) {
      const r = await run([LAB_SCRIPT, ...args], 900_000);
      if (r.code !== 0) throw new Error(`lab ${args.join(" ")} failed: ${r.stderr}`);
    }
    forgetDeployment();
  }
  const r = await onMaster1("install -c cluster.yaml --yes");
  if (r.code !== 0) throw new Error(`the install before the drill failed:\n${r.stderr.slice(-3000)}`);
  await labExec("master1", `cp /root/cluster.yaml /root/cluster.yaml.before-${RUN}`, { check: true });
  for (const dir of [B_DIR, C_DIR]) {
    await labExec("master1", `rm -rf /root/${name(dir)}`, { check: true });
    await copyToMaster1(dir, "/root/");
    await copyToMaster1(binaryBeside(dir), `/root/${name(binaryBeside(dir))}`);
  }
  await labExec("master1", `chmod 755 /root/${BIN_B} /root/${BIN_C}`, { check: true });
  // Refusal bundles made from B on master1: hard links, so only the changed files cost space.
  await labExec("master1", [
    `rm -rf /root/${RUN}-profile /root/${RUN}-corrupt`,
    `cp -al /root/${B} /root/${RUN}-profile && rm /root/${RUN}-profile/lock.json && sed 's/"profile": "debian12"/"profile": "el9"/' /root/${B}/lock.json > /root/${RUN}-profile/lock.json`,
    `cp -al /root/${B} /root/${RUN}-corrupt && f=$(ls /root/${RUN}-corrupt/files/cni-plugins-*) && cp --remove-destination "$f" "$f.x" && mv "$f.x" "$f" && printf x >> "$f"`,
  ].join(" && "), { check: true });
}, 3_600_000);

afterAll(async () => {
  process.stderr.write(`\n${drillTable(rows)}\n`);
  // cluster.yaml as deployed (apply rewrote it for B): later suites deploy against bundle A. The cluster stays at 1.23.
  await labExec("master1", `test -e /root/cluster.yaml.before-${RUN} && mv /root/cluster.yaml.before-${RUN} /root/cluster.yaml; rm -rf /root/${RUN}-profile /root/${RUN}-corrupt`);
});

test("refusals before any change: a skipped minor, another profile, a corrupted bundle (exit 2), an etcd member down (exit 1)", async () => {
  const before = await untouched();
  const cases: [string, () => Promise<{ code: number; stdout: string; stderr: string }>, number, RegExp][] = [
    ["a 1.24 bundle (skips 1.23)", () => labExec("master1", `cd /root && ./${BIN_C} upgrade plan --bundle ${C} -c cluster.yaml`), 2, /skipping a minor version is not supported/],
    ["a bundle of another profile", () => withB(`upgrade apply --bundle ${RUN}-profile -c cluster.yaml --yes`), 2, /is for profile el9/],
    ["a corrupted bundle", () => withB(`upgrade apply --bundle ${RUN}-corrupt -c cluster.yaml --yes`), 2, /fails verification against its lock \(1 problem\): files\/cni-plugins/],
  ];
  for (const [what, cmd, code, text] of cases) {
    const r = await cmd();
    row({ drill: `upgrade refused: ${what}`, cases: 1, passed: r.code === code && text.test(r.stdout + r.stderr) ? 1 : 0, failed: r.code === code && text.test(r.stdout + r.stderr) ? 0 : 1, note: `exit ${r.code}` });
    expect({ what, code: r.code, matches: text.test(r.stdout + r.stderr), out: (r.stdout + r.stderr).slice(-1500) }).toMatchObject({ what, code, matches: true });
    expect(await untouched()).toBe(before);
  }
  await labExec("master3", "systemctl stop etcd", { check: true });
  try {
    const r = await withB(`upgrade apply --bundle ${B} -c cluster.yaml --yes`);
    row({ drill: "upgrade refused: an etcd member down", cases: 1, passed: r.code === 1 ? 1 : 0, failed: r.code === 1 ? 0 : 1, note: `exit ${r.code}` });
    expect({ code: r.code, out: r.stdout + r.stderr }).toMatchObject({ code: 1, out: expect.stringContaining("etcd is not healthy on every member (2/3): master3") });
    expect(await untouched()).toBe(before);
  } finally {
    await labExec("master3", "systemctl start etcd", { check: true });
  }
}, 1_200_000);

test("upgrade plan prints what changes where, in order", async () => {
  const r = await withB(`upgrade plan --bundle ${B} -c cluster.yaml`);
  expect({ code: r.code, err: r.code ? r.stdout + r.stderr : "" }).toEqual({ code: 0, err: "" });
  expect(r.stdout).toContain(`Upgrade v1.22.2 → ${TARGET}`);
  expect(r.stdout).toMatch(/master1 \([^)]*\): depot serves the new bundle; .*kubeadm upgrade apply v1\.23\.17/);
  expect(r.stdout).toContain("control planes one at a time: master1 → master2 → master3");
  expect(r.stdout).toMatch(/node1 \([^)]*\): .*kubeadm upgrade node; drain, kubelet\/kubectl v1\.22\.2 → v1\.23\.17, restart, uncordon/);
}, 600_000);

/** The records of the stand-in on a node. */
async function records(node: string): Promise<InvocationRecord[]> {
  return parseRecords((await labExec(node, "cat /var/log/kube-standin/records.jsonl 2>/dev/null")).stdout);
}
const certNotAfter = async (path: string) => {
  const r = await withB("check-certs --output json -c cluster.yaml");
  return (JSON.parse(r.stdout).certificates as { node: string; certificate: string; notAfter: string }[]).find((x) => x.node === "master1" && x.certificate === path)?.notAfter ?? "";
};

test("upgrade apply, SIGKILLed during the bundle stage, a control plane and a worker, finishes on re-run; the API serves and no write is lost", async () => {
  const apiCertBefore = await certNotAfter("/etc/kubernetes/pki/apiserver.crt");
  const since = new Date().toISOString();
  const probeLog = `/root/${RUN}-prober.log`, writeLog = `/root/${RUN}-writer.log`, prefix = `/${RUN}`;
  const prober = await startProber(probeLog);
  const writer = await startWriter("master3", writeLog, prefix);
  const apply = `./${BIN_B} upgrade apply --bundle ${B} -c cluster.yaml --yes`;
  let at = 0;
  const kills: string[] = [];
  let last: { code: number; text: string } = { code: -1, text: "" };
  try {
    await Bun.sleep(3_000);
    at = await nowOn("node1");
    for (const [where, re] of [["the bundle/runtime stage", /^==> runtime:/m], ["master2's control plane", /^ {2}master2: kubeadm-upgrade/m], ["node1 (workers)", /^ {2}node1: drain/m]] as const) {
      const live: LiveRun = startOnMaster1(apply);
      await waitText(live, re, 1_800_000);
      await Bun.sleep(500);
      await killRun(live);
      kills.push(where);
    }
    last = await startOnMaster1(apply).exited;
    expect({ code: last.code, out: last.code ? last.text.slice(-3000) : "" }).toEqual({ code: 0, out: "" });
    await Bun.sleep(5_000);
  } finally {
    await labExec("node1", `kill ${prober}`);
    await labExec("master3", `kill ${writer}`);
  }
  const again = await withB(`upgrade apply --bundle ${B} -c cluster.yaml --yes`);
  expect({ code: again.code, out: again.stdout }).toMatchObject({ code: 0, out: expect.stringContaining("nothing to do") });

  const probes = judgeProbes((await labExec("node1", `cat ${probeLog}`, { check: true })).stdout, at);
  const writes = await lostWrites("master3", writeLog, prefix);
  row({ drill: "upgrade 1.22.2 → 1.23.17 with 3 SIGKILLs: API through the VIP (prober, 0.2 s), no gap > 5 s", cases: probes.sent, passed: probes.sent - probes.failed, failed: probes.longestGap > GRACE_S ? 1 : 0, note: gapNote(probes) });
  row({ drill: "upgrade: etcd writes acknowledged and kept", cases: writes.acked, passed: writes.acked - writes.lost.length, failed: writes.lost.length });
  expect(probes.longestGap).toBeLessThanOrEqual(GRACE_S);
  expect(writes.lost).toEqual([]);
  expect(kills.length).toBe(3);

  // Every kubelet at the target and schedulable; the cluster's version.
  const nodes = JSON.parse((await labExec("master1", `${KUBECTL} get nodes -o json`, { check: true })).stdout).items as any[];
  // Every node of the cluster: the four of the install, and node2 when an earlier drill joined it.
  const names = nodes.map((n) => n.metadata.name as string);
  expect(NODES.filter((n) => !names.includes(n))).toEqual([]);
  expect(nodes.map((n) => [n.metadata.name, n.status.nodeInfo.kubeletVersion, n.spec?.unschedulable ?? false]).sort()).toEqual(names.map((n) => [n, TARGET, false]).sort());
  expect(await clusterVersion()).toBe(TARGET);

  // The stand-in's records: apply on master1, then upgrade node on the other masters one at a time, then node1.
  const ok = (rs: InvocationRecord[], command: string) => rs.filter((r) => r.tool === "kubeadm" && r.command === command && r.outcome === "ok" && r.ts >= since);
  const applied = ok(await records("master1"), "upgrade apply");
  expect(applied.map((r) => r.to)).toContain(TARGET);
  const cpRuns = [applied.at(-1)!, ...(await Promise.all(["master2", "master3"].map(async (m) => ok(await records(m), "upgrade node").at(-1)!)))];
  for (const r of cpRuns) expect(r).toBeDefined();
  for (let i = 1; i < cpRuns.length; i++) expect(cpRuns[i]!.started! >= cpRuns[i - 1]!.ts).toBe(true); // one control plane at a time
  const w = await records("node1");
  const workerRun = ok(w, "upgrade node").at(-1)!;
  expect(workerRun).toMatchObject({ controlPlane: false, version: TARGET });
  expect(workerRun.started! >= cpRuns.at(-1)!.ts).toBe(true);
  const kubectlOn1 = (await records("master1")).filter((r) => r.tool === "kubectl" && r.outcome === "ok" && r.ts >= since);
  const drained = kubectlOn1.filter((r) => r.argv.includes("drain") && r.argv.includes("node1")).at(-1)!;
  const uncordoned = kubectlOn1.filter((r) => r.argv.includes("uncordon") && r.argv.includes("node1")).at(-1)!;
  const kubeletStart = w.filter((r) => r.tool === "kubelet" && r.command === "start" && r.ts >= since).at(-1)!;
  expect(drained.ts < kubeletStart.ts && kubeletStart.ts < uncordoned.ts).toBe(true);

  // The binary on every node is B's; every master's depot serves B, A kept beside it.
  const sha = async (node: string, path: string) => (await labExec(node, `sha256sum ${path} | cut -d' ' -f1`, { check: true })).stdout.trim();
  const want = await sha("master1", `/root/${BIN_B}`);
  for (const n of NODES) expect([n, await sha(n, "/usr/local/bin/k8s-ha-offline")]).toEqual([n, want]);
  const lockB = await sha("master1", `/root/${B}/lock.json`);
  for (const m of MASTERS) {
    expect([m, await sha(m, "/var/lib/k8s-ha-offline-depot/bundle/lock.json")]).toEqual([m, lockB]);
    expect((await labExec(m, "test -s /var/lib/k8s-ha-offline-depot/bundle.previous/lock.json")).code).toBe(0);
  }
  // kubeadm renewed the control plane's certificates: check-certs shows a later expiry.
  const apiCertAfter = await certNotAfter("/etc/kubernetes/pki/apiserver.crt");
  expect(apiCertAfter > apiCertBefore).toBe(true);
  row({ drill: "upgrade: records, order, binary, depot, renewed certificates", cases: 1, passed: 1, failed: 0, note: `killed during ${kills.join(", ")}; apiserver.crt ${apiCertBefore} → ${apiCertAfter}` });
}, 3_600_000);

test("a downgrade (binary and bundle A against the 1.23 cluster) is refused with exit 2", async () => {
  const r = await labExec("master1", `cd /root && ./k8s-ha-offline upgrade plan --bundle bundle-debian12 -c cluster.yaml.before-${RUN}`);
  row({ drill: "upgrade refused: a downgrade", cases: 1, passed: r.code === 2 ? 1 : 0, failed: r.code === 2 ? 0 : 1, note: `exit ${r.code}` });
  expect({ code: r.code, out: r.stdout + r.stderr }).toMatchObject({ code: 2, out: expect.stringContaining("a downgrade is not supported") });
}, 600_000);
