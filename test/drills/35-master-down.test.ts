// Issue 16's acceptance items 1–2: any master can die. After a full install, a prober on node1 sends a
// TLS request to https://VIP:9443/readyz every 0.2 s (verified with the cluster CA) and an etcd writer
// puts keys through all three endpoints; then `lab poweroff master1`, later (master1 back) `lab poweroff
// master2`. For each cut: the prober's failures stop within 5 s of the cut and the API serves for the
// rest of the drill (no failure after cut + 5 s) but for the victim's return (from its power-on until 5 s
// after it is up: master1 takes the VIP back by priority, and a VIP move costs about one request, as
// verify --failover measures; at most 2 there, in a row of their own), and no acknowledged etcd write is lost. With master1
// off: node1 pulls an image it never had (kube-apiserver, a control-plane image no worker holds) through
// another master's depot — its log shows node1's request — and `apt-get install --reinstall conntrack`
// with the installer's apt options succeeds from the next depot of the mirror list.
// Rows go to dist/drills.jsonl (report.ts). Pending: written for the lab, not run yet.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { labExec, run, LAB_SCRIPT } from "../lab/lab-client.ts";
import { onMaster1, bundleLock } from "../e2e/support.ts";
import { ADDR, GRACE_S, gapNote, judgeProbes, lostWrites, nowOn, startProber, startWriter, waitHealthy, type ProbeVerdict } from "./load.ts";
import { recordDrill, drillTable, type DrillRow } from "./report.ts";

/** The installer's apt options (src/profiles/apt.ts): the depots' source alone. */
const APT = "apt-get -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/k8s-ha-offline.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 -o DPkg::Lock::Timeout=300";
/** master1's depot name: what kubeadm's imageRepository and the pinned images use. */
const DEPOT_NAME = `${ADDR.master1}:5000`;
const OFF_FOR_MS = 45_000;
const RUN = `drill35-${Date.now()}`;
const rows: DrillRow[] = [];
/** Failed requests allowed while the victim returns (a VIP move by priority costs about one). */
const RETURN_BUDGET = 2;
const returnRow = (victim: string, p: ProbeVerdict): DrillRow => ({
  drill: `${victim} back: at most ${RETURN_BUDGET} requests fail in its return window (power-on to up + 5 s)`,
  cases: 1,
  passed: p.atReturn <= RETURN_BUDGET ? 1 : 0,
  failed: p.atReturn <= RETURN_BUDGET ? 0 : 1,
  note: `${p.atReturn} failed`,
});

/** One cut: prober + writer running, `victim` powered off for OFF_FOR_MS (with `whileOff` done meanwhile), powered on. */
async function cut(victim: string, writerOn: string, whileOff: () => Promise<void> = async () => {}): Promise<{ probes: ProbeVerdict; acked: number; lost: string[]; backAt: number }> {
  const probeLog = `/root/${RUN}-${victim}-prober.log`;
  const writeLog = `/root/${RUN}-${victim}-writer.log`;
  const prefix = `/${RUN}/${victim}`;
  const prober = await startProber(probeLog);
  const writer = await startWriter(writerOn, writeLog, prefix);
  let at = 0;
  let back = 0;
  let powerOn = 0;
  try {
    await Bun.sleep(5_000);
    at = await nowOn("node1");
    const off = await run([LAB_SCRIPT, "poweroff", victim], 60_000);
    expect(off.code).toBe(0);
    const started = Date.now();
    await whileOff();
    await Bun.sleep(Math.max(0, OFF_FOR_MS - (Date.now() - started)));
  } finally {
    powerOn = await nowOn("node1");
    let on = await run([LAB_SCRIPT, "poweron", victim], 300_000);
    // The lab's own power switch, not the installer: said with its words, and tried once more (a node whose
    // processes were all SIGKILLed can take a moment to release its container).
    if (on.code !== 0) {
      process.stderr.write(`lab poweron ${victim} failed once (${on.stderr.trim().split("\n").slice(-3).join(" | ")}); trying again\n`);
      await Bun.sleep(5_000);
      on = await run([LAB_SCRIPT, "poweron", victim], 300_000);
    }
    expect({ code: on.code, err: on.code ? on.stderr.slice(-1500) : "" }).toEqual({ code: 0, err: "" });
    back = await nowOn("node1");
    await waitHealthy();
    await Bun.sleep(5_000);
    await labExec("node1", `kill ${prober}`);
    await labExec(writerOn, `kill ${writer}`);
  }
  const probes = judgeProbes((await labExec("node1", `cat ${probeLog}`, { check: true })).stdout, at, { from: powerOn, to: back });
  return { probes, backAt: back - at, ...(await lostWrites(writerOn, writeLog, prefix)) };
}


beforeAll(async () => {
  const r = await onMaster1("install -c cluster.yaml --yes");
  if (r.code !== 0) throw new Error(`the install before the drill failed:\n${r.stderr.slice(-3000)}`);
}, 1_800_000);

afterAll(() => {
  process.stderr.write(`\n${drillTable(rows)}\n`);
});

test("master1 powered off: the API through the VIP serves again within 5 s, no acknowledged write is lost, node1 pulls a new image and reinstalls a package from the other depots", async () => {
  const lock = await bundleLock();
  const api = lock.images.find((i) => /\/kube-apiserver:/.test(i.ref))!;
  const ref = `${DEPOT_NAME}/google_containers/kube-apiserver@${api.digest}`;
  // An image node1 never had: no worker runs the apiserver; make sure no earlier test left it there.
  const held = (await labExec("node1", "ctr -n k8s.io images ls -q | grep kube-apiserver || true")).stdout.split("\n").filter(Boolean);
  if (held.length) await labExec("node1", `ctr -n k8s.io images rm --sync ${held.join(" ")}`, { check: true });
  for (const m of ["master2", "master3"]) await labExec(m, "truncate -s 0 /var/log/k8s-ha-offline/depot.log", { check: true });

  let pull = { code: -1, out: "" };
  let apt = { code: -1, out: "" };
  let servedBy: string[] = [];
  const r = await cut("master1", "master2", async () => {
    const p = await labExec("node1", `ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d ${ref} 2>&1`, { timeoutMs: 300_000 });
    pull = { code: p.code, out: p.stdout };
    for (const m of ["master2", "master3"]) {
      const hits = await labExec(m, `grep -c '${ADDR.node1} [A-Z]* /v2/google_containers/kube-apiserver/' /var/log/k8s-ha-offline/depot.log || true`);
      if (Number(hits.stdout.trim()) > 0) servedBy.push(m);
    }
    // clean: the .deb must be fetched again, not taken from apt's cache.
    const a = await labExec("node1", `export DEBIAN_FRONTEND=noninteractive; ${APT} clean && ${APT} update 2>&1 && ${APT} install -y --reinstall conntrack 2>&1`, { timeoutMs: 300_000 });
    apt = { code: a.code, out: a.stdout };
  });

  rows.push(
    { drill: "master1 off: API through the VIP serves again within 5 s (prober, 0.2 s)", cases: r.probes.sent, passed: r.probes.sent - r.probes.lateFailures, failed: r.probes.lateFailures, note: `${gapNote(r.probes)}; master1 back at +${r.backAt.toFixed(1)} s, ${r.probes.atReturn} failed in its return window` },
    { drill: "master1 off: etcd writes acknowledged and kept", cases: r.acked, passed: r.acked - r.lost.length, failed: r.lost.length },
    { drill: "master1 off: node1 pulls a new image", cases: 1, passed: pull.code === 0 && servedBy.length > 0 ? 1 : 0, failed: pull.code === 0 && servedBy.length > 0 ? 0 : 1, note: `served by ${servedBy.join(", ") || "no other depot"}` },
    { drill: "master1 off: apt-get install --reinstall conntrack", cases: 1, passed: apt.code === 0 ? 1 : 0, failed: apt.code === 0 ? 0 : 1 },
  );
  rows.push(returnRow("master1", r.probes));
  for (const row of rows.slice(-5)) recordDrill(row);

  expect({ lateFailures: r.probes.lateFailures, sent: r.probes.sent > 0 }).toEqual({ lateFailures: 0, sent: true });
  expect(r.probes.atReturn).toBeLessThanOrEqual(RETURN_BUDGET);
  expect(r.lost).toEqual([]);
  expect(r.acked).toBeGreaterThan(0);
  expect({ code: pull.code, out: pull.code === 0 ? "" : pull.out }).toEqual({ code: 0, out: "" });
  expect(servedBy.length).toBeGreaterThan(0);
  expect((await labExec("node1", "ctr -n k8s.io images ls -q")).stdout).toContain(ref);
  expect({ code: apt.code, out: apt.code === 0 ? "" : apt.out.slice(-2000) }).toEqual({ code: 0, out: "" });
  // The package came from another master's depot: master1's was off.
  expect(apt.out).toMatch(/https:\/\/192\.168\.217\.(20|21):5000\/repo\/debian12 \.\/ conntrack/);
}, 1_200_000);

test("master2 powered off: the API through the VIP serves again within 5 s and no acknowledged write is lost", async () => {
  const r = await cut("master2", "master3");
  const probeRow = { drill: "master2 off: API through the VIP serves again within 5 s (prober, 0.2 s)", cases: r.probes.sent, passed: r.probes.sent - r.probes.lateFailures, failed: r.probes.lateFailures, note: `${gapNote(r.probes)}; master2 back at +${r.backAt.toFixed(1)} s, ${r.probes.atReturn} failed in its return window` };
  const etcdRow = { drill: "master2 off: etcd writes acknowledged and kept", cases: r.acked, passed: r.acked - r.lost.length, failed: r.lost.length };
  const back = returnRow("master2", r.probes);
  rows.push(probeRow, etcdRow, back);
  for (const row of [probeRow, etcdRow, back]) recordDrill(row);
  expect({ lateFailures: r.probes.lateFailures, sent: r.probes.sent > 0 }).toEqual({ lateFailures: 0, sent: true });
  expect(r.probes.atReturn).toBeLessThanOrEqual(RETURN_BUDGET);
  expect(r.lost).toEqual([]);
  expect(r.acked).toBeGreaterThan(0);
}, 1_200_000);
