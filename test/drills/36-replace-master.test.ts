// Issue 16's acceptance for replace-node: master1's disk is lost. After an install (or after drill 35),
// keys are written to etcd, then `lab poweroff master1` and its overlay's upper layer is wiped but for its
// identity (hostname, machine-id, network file, SSH host keys, root's .ssh): it boots as a fresh machine
// with the same address and SSH key. `install` on the new master1 is refused, nothing changed: with no state
// there, then with master2's state copied as the refusal says (master2 and master3 hold a control plane).
// On master2, with the binary the install put there:
//   - `replace-node master3` (alive and healthy) without --force is refused (exit 2), nothing changed;
//   - with master3 powered off too, `replace-node master1` is refused (exit 1): removing master1's member
//     with only master2 healthy would need a quorum etcd does not have — the real situation of a second
//     lost master, not a fake; nothing changed;
//   - master3 back, `replace-node master1 --yes` while an etcd writer puts keys through all endpoints →
//     3/3 etcd members healthy, master1..3 Ready control planes, every master's apiserver ready and in
//     every haproxy config, the VIP back on master1 (the highest priority, nopreempt false in the lab), check-certs
//     and status exit 0 on master2 and on master1, every key written before and during there.
// Rows go to dist/drills.jsonl (report.ts).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { labExec, readLab, run, LAB_SCRIPT, LAB_STATE } from "../lab/lab-client.ts";
import { onMaster1, forgetDeployment, MASTERS } from "../e2e/support.ts";
import { recordDrill, drillTable, type DrillRow } from "./report.ts";

const ADDR: Record<string, string> = { master1: "192.168.217.19", master2: "192.168.217.20", master3: "192.168.217.21", node1: "192.168.217.22" };
const ETCDCTL =
  "ETCDCTL_API=3 /usr/local/bin/etcdctl --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key " +
  `--endpoints=${MASTERS.map((m) => `https://${ADDR[m]}:2379`).join(",")}`;
const RUN = `drill36-${Date.now()}`;
const rows: DrillRow[] = [];
const row = (r: DrillRow) => {
  rows.push(r);
  recordDrill(r);
};

/** The binary the install put on every master, run from /root there (no cluster.yaml there: the replicated one is used). */
async function onMaster(node: string, args: string, timeoutMs = 1_800_000) {
  const started = performance.now();
  const r = await labExec(node, `cd /root && /usr/local/bin/k8s-ha-offline ${args}`, { timeoutMs });
  const seconds = (performance.now() - started) / 1000;
  if (process.env.E2E_VERBOSE || r.code !== 0) process.stderr.write(`--- ${node}: k8s-ha-offline ${args} (exit ${r.code}, ${seconds.toFixed(1)} s)\n${r.stdout}${r.stderr}\n`);
  return { ...r, seconds, out: r.stdout + r.stderr };
}

async function lab(...args: string[]) {
  let r = await run([LAB_SCRIPT, ...args], 300_000);
  // A node whose processes were all SIGKILLed can take a moment to release its container (drill 35).
  if (r.code !== 0 && args[0] === "poweron") {
    await Bun.sleep(5_000);
    r = await run([LAB_SCRIPT, ...args], 300_000);
  }
  expect({ lab: args.join(" "), code: r.code, err: r.code ? r.stderr.slice(-1500) : "" }).toEqual({ lab: args.join(" "), code: 0, err: "" });
}

/** The members etcd lists (hex IDs) and how many answer healthy, asked on `from`. */
async function etcdMembers(from: string) {
  const list = await labExec(from, `${ETCDCTL} member list -w simple 2>&1`);
  const health = await labExec(from, `${ETCDCTL} endpoint health 2>&1`);
  return {
    ids: list.stdout.split("\n").filter((l) => /^[0-9a-f]+, /.test(l)).map((l) => l.split(",")[0]!).sort(),
    names: list.stdout.split("\n").filter((l) => /^[0-9a-f]+, /.test(l)).map((l) => l.split(", ")[2]!).sort(),
    healthy: health.stdout.match(/is healthy/g)?.length ?? 0,
  };
}

async function waitEtcdHealthy(from: string, count: number, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await etcdMembers(from);
    if (m.healthy >= count) return m;
    if (Date.now() > deadline) throw new Error(`etcd did not get ${count} healthy members within ${timeoutMs / 1000} s (asked on ${from}): ${JSON.stringify(m)}`);
    await Bun.sleep(3_000);
  }
}

const kubeNodes = async (on: string) =>
  (JSON.parse((await labExec(on, "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o json", { check: true })).stdout).items as any[]).map((n) => ({
    name: n.metadata.name as string,
    ready: (n.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True"),
  }));

const keysUnder = async (on: string, prefix: string) =>
  new Set((await labExec(on, `${ETCDCTL} get ${prefix}/ --prefix --keys-only`, { check: true, timeoutMs: 60_000 })).stdout.split("\n").filter(Boolean));

/**
 * master1's disk lost: its overlay's upper layer replaced by one holding only what the lab gave the node
 * (test/lab/lib/nodes.sh node_prepare): hostname, machine-id, its network file, SSH host keys, root's .ssh.
 */
async function wipeMaster1() {
  const upper = `${LAB_STATE}/nodes/master1/upper`;
  const script = `set -euo pipefail
u=${JSON.stringify(upper)}; old="$u.lost-$$"
test -d "$u"
mv "$u" "$old"
mkdir "$u"; chmod --reference="$old" "$u"; chown --reference="$old" "$u"
cd "$old"
for p in etc/hostname etc/machine-id etc/systemd/network/10-host0.network etc/ssh/ssh_host_* root/.ssh; do
  if [ -e "$p" ]; then cp -a --parents "$p" "$u/"; fi
done
rm -rf "$old"`;
  const r = await run(["bash", "-c", script], 300_000);
  expect({ wipe: r.code, err: r.stderr }).toEqual({ wipe: 0, err: "" });
  forgetDeployment(); // master1's /root (binary, bundle, cluster.yaml) is gone with the rest
}

beforeAll(async () => {
  const r = await onMaster1("install -c cluster.yaml --yes");
  if (r.code !== 0) throw new Error(`the install before the drill failed:\n${r.stderr.slice(-3000)}`);
  await waitEtcdHealthy("master2", 3);
}, 1_800_000);

afterAll(async () => {
  // Whatever happened, no master stays off for the drills after this one.
  for (const m of MASTERS) await run([LAB_SCRIPT, "poweron", m], 300_000);
  process.stderr.write(`\n${drillTable(rows)}\n`);
});

test("replace-node of an alive, healthy node without --force is refused (exit 2), nothing changed", async () => {
  const before = await etcdMembers("master2");
  const r = await onMaster("master2", "replace-node master3 --yes", 300_000);
  const after = await etcdMembers("master2");
  const nodes = await kubeNodes("master2");
  const ok = r.code === 2 && /master3 is alive and healthy/.test(r.out) && /nothing was changed/.test(r.out) && after.ids.join() === before.ids.join();
  row({ drill: "replace-node of a healthy node without --force: refused, nothing changed", cases: 1, passed: ok ? 1 : 0, failed: ok ? 0 : 1, note: `exit ${r.code}` });
  expect({ code: r.code, says: r.out.match(/master3 is alive and healthy \([^)]*\): nothing was changed/)?.[0] !== undefined }).toEqual({ code: 2, says: true });
  expect(after.ids).toEqual(before.ids);
  expect(after.healthy).toBe(3);
  expect(nodes.find((n) => n.name === "master3")?.ready).toBe(true);
}, 600_000);

test("master1's disk lost: refused while a second master is off (no quorum), then replace-node master1 from master2 brings back 3/3 etcd, 3 control planes, the VIP, every key", async () => {
  // Keys before: 100 acknowledged puts.
  const before = await labExec("master2", `for i in $(seq 1 100); do ${ETCDCTL} put /${RUN}/before/k$i v$i >/dev/null || exit 1; done`, { timeoutMs: 300_000 });
  expect(before.code).toBe(0);
  const oldIds = (await etcdMembers("master2")).ids;

  await lab("poweroff", "master1");
  await wipeMaster1();
  await lab("poweron", "master1");
  const fresh = await labExec("master1", "test ! -e /usr/local/bin/k8s-ha-offline && test ! -e /var/lib/etcd/member && test ! -e /etc/kubernetes && echo fresh");
  expect(fresh.stdout.trim()).toBe("fresh");

  // The operator's mistake: `install` on the new master1, as on the first day. Refused before any change —
  // first because master1 holds no installer state while master2 does; then, with the state copied as that
  // refusal says (the command it prints, run on master1), because master2 and master3 hold a control plane:
  // a `kubeadm init` here would make a new CA and a second cluster on the same etcd.
  const stale = await onMaster1("install -c cluster.yaml --yes");
  const staleOut = stale.stdout + stale.stderr;
  const copy = /as root on master1: (mkdir -p -m 700 .+?) — it holds secrets/.exec(staleOut)?.[1];
  expect({ code: stale.code, copy: copy !== undefined, says: /the state on master1 \(generation 0\) is older than master[23]'s/.test(staleOut) }).toEqual({ code: 1, copy: true, says: true });
  // As printed, but without questions: the lab's test runner answers none.
  const unattended = copy!.replace(" && ssh ", " && ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new ");
  const copied = await labExec("master1", `set -o pipefail; ${unattended}`, { timeoutMs: 120_000 });
  expect({ copied: copied.code, err: copied.stderr.split(/\r?\n/).filter((l) => l && !l.startsWith("Warning: Permanently added")).join("\n").slice(-500) }).toEqual({ copied: 0, err: "" });
  const secondInit = await onMaster1("install -c cluster.yaml --yes");
  const secondOut = secondInit.stdout + secondInit.stderr;
  const untouched = await labExec("master1", "test ! -e /etc/kubernetes && test ! -e /var/lib/etcd/member && ! systemctl is-active -q etcd kubelet && echo untouched");
  const refusedInit = secondInit.code === 1 && /master1 has no control plane \(no \S+admin\.conf\) while master2, master3 have one/.test(secondOut) && /Nothing was changed/.test(secondOut);
  row({ drill: "install on the wiped master1 (state missing, then copied): refused, nothing changed", cases: 2, passed: (copied.code === 0 ? 1 : 0) + (refusedInit && untouched.stdout.trim() === "untouched" ? 1 : 0), failed: (copied.code === 0 ? 0 : 1) + (refusedInit && untouched.stdout.trim() === "untouched" ? 0 : 1), note: `exit ${stale.code}, ${secondInit.code}` });
  expect({ code: secondInit.code, refused: refusedInit, untouched: untouched.stdout.trim() }).toEqual({ code: 1, refused: true, untouched: "untouched" });
  expect((await etcdMembers("master2")).ids).toEqual(oldIds);

  // A second master off: master2 alone cannot carry a membership change.
  await lab("poweroff", "master3");
  let refused;
  try {
    refused = await onMaster("master2", "replace-node master1 --yes", 600_000);
  } finally {
    await lab("poweron", "master3");
  }
  const afterRefusal = await waitEtcdHealthy("master2", 2);
  const refusedOk = refused.code === 1 && /master1's etcd member [0-9a-f]+ cannot be removed: etcd has no quorum/.test(refused.out) && afterRefusal.ids.join() === oldIds.join();
  row({ drill: "replace-node master1 with master3 off too: refused (no quorum), nothing changed", cases: 1, passed: refusedOk ? 1 : 0, failed: refusedOk ? 0 : 1, note: `exit ${refused.code}` });
  expect({ code: refused.code, says: /master1's etcd member [0-9a-f]+ cannot be removed: etcd has no quorum/.test(refused.out) }).toEqual({ code: 1, says: true });
  expect(afterRefusal.ids).toEqual(oldIds);

  // The replacement, with an etcd writer running on master3 through every endpoint.
  const writeLog = `/root/${RUN}-writer.log`;
  const body = `i=0; while :; do i=$((i+1)); if ${ETCDCTL} --command-timeout=3s put /${RUN}/during/k$i v$i >/dev/null 2>&1; then echo "ack $i"; else echo "fail $i"; fi; sleep 0.1; done`;
  const writer = Number((await labExec("master3", `nohup sh -c '${body.replace(/'/g, "'\\''")}' > ${writeLog} 2>&1 < /dev/null & echo $!`, { check: true })).stdout.trim());
  let replaced;
  try {
    replaced = await onMaster("master2", "replace-node master1 --yes");
  } finally {
    await labExec("master3", `kill ${writer}`);
  }
  expect({ code: replaced.code, tail: replaced.code === 0 ? "" : replaced.out.slice(-3000) }).toEqual({ code: 0, tail: "" });
  expect(replaced.out).toMatch(/etcd: member [0-9a-f]+ \(master1\) removed/);

  // 3/3 etcd members, master1's a new one.
  const etcd = await waitEtcdHealthy("master3", 3, 180_000);
  expect(etcd.names).toEqual(["master1", "master2", "master3"]);
  expect(etcd.ids.filter((id) => !oldIds.includes(id)).length).toBe(1);
  // Three control planes, each apiserver ready and in every master's haproxy.
  const nodes = await kubeNodes("master2");
  expect(MASTERS.map((m) => nodes.find((n) => n.name === m)?.ready)).toEqual([true, true, true]);
  for (const m of MASTERS) {
    const ready = await labExec("node1", `curl -sf --max-time 3 --cacert /etc/kubernetes/pki/ca.crt https://${ADDR[m]}:6443/readyz`);
    expect({ m, ready: ready.stdout.trim() }).toEqual({ m, ready: "ok" });
    const cfg = (await labExec(m, "cat /etc/haproxy/haproxy.cfg", { check: true })).stdout;
    expect({ m, backends: MASTERS.filter((b) => cfg.includes(`${ADDR[b]}:6443`)) }).toEqual({ m, backends: MASTERS });
  }
  // The VIP back on master1 (the highest priority; the lab has nopreempt: false).
  const vip = readLab().vip;
  const deadline = Date.now() + 60_000;
  let holder = "";
  while (Date.now() < deadline) {
    holder = (await labExec("master1", `ip -o -4 addr show | grep -F ' ${vip}/' >/dev/null && echo master1`)).stdout.trim();
    if (holder === "master1") break;
    await Bun.sleep(2_000);
  }
  expect(holder).toBe("master1");
  // check-certs and status, on master2 and on master1 (a master again, with the replicated state).
  const certs2 = await onMaster("master2", "check-certs", 300_000);
  const status2 = await onMaster("master2", "status", 300_000);
  const certs1 = await onMaster("master1", "check-certs", 300_000);
  const status1 = await onMaster("master1", "status", 300_000);
  expect([certs2.code, status2.code, certs1.code, status1.code]).toEqual([0, 0, 0, 0]);
  // Every key, before and during.
  const acked = [...(await labExec("master3", `cat ${writeLog}`, { check: true })).stdout.matchAll(/^ack (\d+)$/gm)].map((m) => `/${RUN}/during/k${m[1]}`);
  const during = await keysUnder("master1", `/${RUN}/during`);
  const beforeKeys = await keysUnder("master1", `/${RUN}/before`);
  const lost = [...acked.filter((k) => !during.has(k)), ...Array.from({ length: 100 }, (_, i) => `/${RUN}/before/k${i + 1}`).filter((k) => !beforeKeys.has(k))];
  row({ drill: "replace-node master1 (disk lost) from master2: 3/3 etcd, 3 control planes, VIP back, certs and status ok", cases: 1, passed: 1, failed: 0, note: `${replaced.seconds.toFixed(0)} s` });
  row({ drill: "replace-node master1: etcd keys written before and during kept", cases: 100 + acked.length, passed: 100 + acked.length - lost.length, failed: lost.length });
  expect(acked.length).toBeGreaterThan(0);
  expect(lost).toEqual([]);
  // A re-run finds nothing to replace: master1 is alive and healthy again.
  const again = await onMaster("master2", "replace-node master1 --yes", 300_000);
  expect(again.code).toBe(2);
}, 3_600_000);
