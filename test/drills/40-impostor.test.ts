// Issue 15's impostor drill: nobody on the network can feed the nodes. (Issue 16: with the other masters'
// depots up the nodes bypass the impostor and the install succeeds; with them closed, it stops.) On the cluster the earlier drills
// left, the depot is moved to its own address (depot.address, a second address on master1), then
// something else answers at that address for every other node, from the lab host on the same segment
// (ARP-spoofed: the nodes' neighbour entry for the depot points at the host): plain HTTP, TLS with another CA's
// certificate, the depot's own (stolen) certificate with a tampered .deb and an index signed with
// another key, and the stolen certificate with the genuine packages but a retagged image. For each,
// `install --only packages,runtime` (with work to do on node1) and `add-node node2` (a fresh worker)
// must stop with exit 1 and a message naming the integrity failure, no /root/PWNED anywhere, and the
// impostor's image never in containerd's store. With the real depot back, both succeed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { labExec, readLab, run } from "../lab/lab-client.ts";
import { onMaster1, labHostLine, BUNDLE, NODES, ROOT, bundleLock } from "../e2e/support.ts";
import { recordDrill, drillTable, type DrillRow } from "./report.ts";
import { DEPOT_SERVING } from "../../src/pki/depot-pki.ts";
import { NODE_DEPOT_CA } from "../../src/depot/trust-paths.ts";

const DEPOT_ADDRESS = "192.168.217.90";
const PORT = 5000;

const BRIDGE = "k8slab0";
const STACK = /\n\s+at .+[:(]\d+/;
const ALL = [...NODES, "node2"];
const work = mkdtempSync("/var/tmp/k8s-impostor-");
const rows: DrillRow[] = [];
const upper = (n: string) => join(readLab().state_dir, "nodes", n, "upper");
let pauseRef = "";
let pauseDigest = "";
let victimPackage = "";

/** What each impostor may be blamed for in the installer's message. */
const INTEGRITY: Record<string, RegExp> = {
  http: /TLS|SSL|certificate|https|wrong version number|not speak/i,
  "other-ca": /certificate|SSL|TLS|verify|issuer/i,
  tampered: /GPG error|signatures were invalid|NO_PUBKEY|is not signed|Hash Sum mismatch/i,
  retag: /digest|does not match|integrity|unexpected|mismatch/i,
};

/** The lab host's MAC on the bridge: where a spoofed neighbour entry sends the nodes' depot traffic. */
const hostMac = () => readFileSync(`/sys/class/net/${BRIDGE}/address`, "utf8").trim();
const SPOOFED = ALL.filter((n) => n !== "master1");

/**
 * ARP spoofing, as the attacker does: every node but master1 is told the depot's address is at the
 * lab host's MAC (a permanent neighbour entry), and the host answers there. The real depot keeps running on
 * master1, so the installer's own view of it (the depot phase's check from master1) is unchanged.
 */
async function spoof(on: boolean) {
  await Promise.all(
    SPOOFED.map((n) =>
      labExec(n, on ? `ip neigh replace ${DEPOT_ADDRESS} lladdr ${hostMac()} dev host0 nud permanent` : `ip neigh del ${DEPOT_ADDRESS} dev host0 2>/dev/null; true`, { check: true }),
    ),
  );
}

/** The impostor on the lab host, at the depot's address. */
async function startImpostor(mode: string): Promise<{ stop: () => Promise<void>; log: () => string }> {
  await run(["ip", "addr", "add", `${DEPOT_ADDRESS}/32`, "dev", BRIDGE]);
  // The depot's own serving certificate and key from master1 (what an insider could steal).
  const stolen = (p: string) => join(upper("master1"), p.slice(1));
  const proc = Bun.spawn(
    [process.execPath, join(ROOT, "test/drills/impostor.ts"), mode, `${DEPOT_ADDRESS}:${PORT}`, BUNDLE, work, stolen(DEPOT_SERVING.cert), stolen(DEPOT_SERVING.key), join(work, "InRelease")],
    { stdout: "pipe", stderr: "pipe", env: { ...process.env, IMPOSTOR_DEB: victimPackage } },
  );
  let text = "";
  (async () => {
    for await (const c of proc.stderr) text += new TextDecoder().decode(c);
  })();
  for (let i = 0; i < 300 && !text.includes(`impostor: ${mode} on`); i++) {
    if (proc.exitCode !== null) throw new Error(`impostor ${mode} exited: ${text}`);
    await Bun.sleep(100);
  }
  await spoof(true);
  return {
    log: () => text,
    stop: async () => {
      await spoof(false);
      proc.kill("SIGTERM");
      await proc.exited;
      await run(["ip", "addr", "del", `${DEPOT_ADDRESS}/32`, "dev", BRIDGE]);
    },
  };
}

/**
 * Every master runs a depot (issue 16) and the nodes move on to the next one when the first fails, so an
 * impostor at depot.address alone cannot stop an install: the nodes take everything from master2's and
 * master3's depots instead. To see the refusal itself, those are closed to the network for a while (their
 * own master still reaches them through lo, so the depot phase's check on the master passes).
 */
async function closeOtherDepots(closed: boolean) {
  const rule = `INPUT -p tcp --dport ${PORT} ! -i lo -j REJECT --reject-with tcp-reset`;
  await Promise.all(
    ["master2", "master3"].map((m) => labExec(m, closed ? `iptables -w -C ${rule} 2>/dev/null || iptables -w -I ${rule}` : `while iptables -w -D ${rule} 2>/dev/null; do :; done; true`, { check: true })),
  );
}

/** Give node1 something to fetch in packages and runtime: a bundle package and the pause image gone. */
async function makeWork() {
  // The package and its index, and the pause image under every name with its content: node1 must fetch all of
  // them again (with the genuine index or image still on the node, apt and containerd would rightly need nothing).
  // Every name means every image record whose target is pause's manifest: the CRI also keeps one named by the
  // image id ("sha256:<config digest>"), and while it exists the content stays and a pull by digest fetches nothing.
  await labExec(
    "node1",
    `dpkg -r --force-depends ${victimPackage} >/dev/null 2>&1; rm -rf /var/lib/apt/lists/*; ` +
      `ctr -n k8s.io images ls | awk -v d=${pauseDigest} '$3 == d {print $1}' | xargs -r ctr -n k8s.io images rm --sync >/dev/null 2>&1; true`,
  );
  const left = (await labExec("node1", `ctr -n k8s.io content ls -q | grep -cx '${pauseDigest}'; true`)).stdout.trim();
  expect({ pauseContentLeftOnNode1: left }).toEqual({ pauseContentLeftOnNode1: "0" });
}

async function noPwnedAnywhere(): Promise<string | undefined> {
  const hit = ALL.filter((n) => existsSync(join(upper(n), "root/PWNED")));
  return hit.length ? `/root/PWNED on ${hit.join(", ")}` : undefined;
}

/** containerd's pause image on node1/node2: absent, or exactly the locked digest. */
async function pauseIntact(): Promise<string | undefined> {
  for (const n of ["node1", "node2"]) {
    const ls = (await labExec(n, "ctr -n k8s.io images ls 2>/dev/null")).stdout;
    for (const line of ls.split("\n").filter((l) => l.includes("/pause:") || l.includes("/pause@")))
      if (!line.includes(pauseDigest)) return `${n} has ${line.trim().split(/\s+/).slice(0, 3).join(" ")}`;
  }
  return undefined;
}

const setNode2 = (present: boolean) =>
  labExec("master1", present ? `grep -q 'name: node2,' /root/cluster.yaml || sed -i '/name: node1,/a\\${labHostLine("node2")}' /root/cluster.yaml` : "sed -i '/name: node2,/d' /root/cluster.yaml", { check: true });

beforeAll(async () => {
  // The cluster the earlier drills left (installed if this file runs alone).
  expect((await onMaster1("install -c cluster.yaml --yes")).code).toBe(0);
  const lock = await bundleLock();
  const pause = lock.images.find((i) => /\/pause:/.test(i.ref))!;
  pauseDigest = pause.digest;
  victimPackage = ["conntrack", "ebtables", "socat", "ethtool"].find((p) => lock.files.some((f) => f.path.includes(`/${p}_`))) ?? "conntrack";
  // The depot on its own address: a second address on master1, named in cluster.yaml.
  const yaml = YAML.parseDocument((await labExec("master1", "cat /root/cluster.yaml", { check: true })).stdout);
  yaml.setIn(["depot", "address"], DEPOT_ADDRESS);
  await labExec("master1", `ip addr add ${DEPOT_ADDRESS}/24 dev host0 2>/dev/null; cat > /root/cluster.yaml`, { check: true, stdin: yaml.toString() });
  const moved = await onMaster1("install -c cluster.yaml --yes");
  expect({ code: moved.code, out: moved.code ? moved.stdout + moved.stderr : "" }).toEqual({ code: 0, out: "" });
  // The name under the depot's new address (the names under master1's address, from before the move, stay in the store).
  pauseRef = (await labExec("node1", `ctr -n k8s.io images ls -q | grep -F '${DEPOT_ADDRESS}:${PORT}/' | grep '/pause:' | head -1`, { check: true })).stdout.trim();
  expect(pauseRef).toContain(`${DEPOT_ADDRESS}:${PORT}/`);
  // The cluster's own signed index, for the impostor that replays it.
  const ca = join(upper("master1"), NODE_DEPOT_CA.slice(1));
  const got = await run(["curl", "-fsS", "--cacert", ca, "-o", join(work, "InRelease"), `https://${DEPOT_ADDRESS}:${PORT}/repo/debian12/InRelease`]);
  expect(got.code).toBe(0);
  // node2 is in cluster.yaml only for add-node (an `install --only` must not meet a node that was never prepared).
  await setNode2(false);
}, 1_800_000);

afterAll(async () => {
  await spoof(false).catch(() => {});
  await closeOtherDepots(false).catch(() => {});
  await run(["ip", "addr", "del", `${DEPOT_ADDRESS}/32`, "dev", BRIDGE]).catch(() => {});
  // Leave the cluster as the drill found it for the drills after this one: the depot back on master1's own
  // address (kubeadm's imageRepository still names it), the hand-made second address gone.
  const yaml = YAML.parseDocument((await labExec("master1", "cat /root/cluster.yaml", { check: true })).stdout);
  yaml.deleteIn(["depot", "address"]);
  await labExec("master1", "cat > /root/cluster.yaml", { check: true, stdin: yaml.toString() });
  const back = await onMaster1("install -c cluster.yaml --yes");
  if (back.code !== 0) process.stderr.write(`the install moving the depot back to master1's address failed (exit ${back.code})\n`);
  await labExec("master1", `ip addr del ${DEPOT_ADDRESS}/24 dev host0 2>/dev/null; true`);
  for (const r of rows) recordDrill(r);
  process.stderr.write(`\n${drillTable(rows)}\n`);
  rmSync(work, { recursive: true, force: true });
});

for (const mode of ["http", "other-ca", "tampered", "retag"]) {
  test(`impostor (${mode}) at depot.address, the other masters' depots up: nothing of it lands; the install succeeds through them or stops naming it`, async () => {
    const failures: string[] = [];
    const cases: string[] = [];
    const impostor = await startImpostor(mode);
    try {
      await makeWork();
      const r = await onMaster1("install --only packages,runtime -c cluster.yaml --yes", 900_000);
      cases.push("install --only packages,runtime");
      // An impostor that answers with our certificate but wrong content is not skipped: apt's mirror method stops at
      // an index signed with another key ("is not signed"), containerd at a digest mismatch. Then the command stops,
      // naming it, with nothing landed; only an impostor that cannot even speak TLS to the nodes is passed over.
      const refusedNamed = (mode === "tampered" || mode === "retag") && r.code === 1 && INTEGRITY[mode]!.test(r.stdout + r.stderr) && !STACK.test(r.stdout + r.stderr);
      if (r.code !== 0 && !refusedNamed) failures.push(`install --only packages,runtime: exit ${r.code}: ${(r.stdout + r.stderr).slice(-600)}`);
      for (const [name, check] of [["no /root/PWNED", noPwnedAnywhere], ["impostor image not in containerd", pauseIntact]] as const) {
        const why = await check();
        cases.push(name);
        if (why) failures.push(why);
      }
    } finally {
      await impostor.stop();
    }
    rows.push({ drill: `impostor depot (${mode}), other depots up: bypassed, nothing landed`, cases: cases.length, passed: cases.length - failures.length, failed: failures.length, ...(failures.length ? { note: failures.slice(0, 2).join("; ") } : {}) });
    expect(failures).toEqual([]);
  }, 1_800_000);

  test(`impostor (${mode}), the other masters' depots closed: install --only packages,runtime and add-node stop, naming the integrity failure; nothing of it lands`, async () => {
    const failures: string[] = [];
    const cases: string[] = [];
    const impostor = await startImpostor(mode);
    await closeOtherDepots(true);
    try {
      for (const [what, args] of [
        ["install --only packages,runtime", "install --only packages,runtime -c cluster.yaml --yes"],
        ["add-node node2", "add-node node2 --role worker -c cluster.yaml --yes"],
      ] as const) {
        await makeWork();
        if (what === "add-node node2") await setNode2(true);
        const r = await onMaster1(args, 900_000).finally(() => (what === "add-node node2" ? setNode2(false) : undefined));
        const out = r.stdout + r.stderr;
        cases.push(what);
        if (r.code !== 1) failures.push(`${what}: exit ${r.code}`);
        else if (STACK.test(out)) failures.push(`${what}: stack trace`);
        else if (!INTEGRITY[mode]!.test(out)) failures.push(`${what}: no integrity failure named in: ${out.slice(-600)}`);
        for (const [name, check] of [["no /root/PWNED", noPwnedAnywhere], ["impostor image not in containerd", pauseIntact]] as const) {
          const why = await check();
          cases.push(`${what}: ${name}`);
          if (why) failures.push(`${what}: ${why}`);
        }
      }
    } finally {
      await closeOtherDepots(false);
      await impostor.stop();
    }
    rows.push({ drill: `impostor depot (${mode}): refused, nothing landed`, cases: cases.length, passed: cases.length - failures.length, failed: failures.length, ...(failures.length ? { note: failures.slice(0, 2).join("; ") } : {}) });
    expect(failures).toEqual([]);
  }, 1_800_000);
}

test("with the real depot back, the same commands succeed and node2 joins", async () => {
  await makeWork();
  const a = await onMaster1("install --only packages,runtime -c cluster.yaml --yes");
  await setNode2(true);
  const b = await onMaster1("add-node node2 --role worker -c cluster.yaml --yes");
  const ok = [a, b].filter((r) => r.code === 0).length;
  rows.push({ drill: "real depot back: both commands succeed", cases: 2, passed: ok, failed: 2 - ok });
  expect({ a: a.code, b: b.code, out: a.code || b.code ? (a.stdout + a.stderr + b.stdout + b.stderr).slice(-1500) : "" }).toEqual({ a: 0, b: 0, out: "" });
  expect(await pauseIntact()).toBeUndefined();
  expect((await labExec("node1", `dpkg-query -W -f '\${Status}' ${victimPackage}`)).stdout).toBe("install ok installed");
}, 1_800_000);
