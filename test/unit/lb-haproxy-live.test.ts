// The rendered haproxy.cfg run by Debian's real haproxy in front of three fake TLS apiservers on
// loopback (127.0.0.11-13:6443): ready apiservers take the clients; a lost one leaves rotation; and
// when no apiserver passes /readyz (a slow etcd fails every check at once), clients still reach the
// ones that accept connections instead of haproxy refusing everybody (issue 16: one member's trouble
// must never make haproxy refuse all backends while an apiserver is alive).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderHaproxy } from "../../src/phases/lb.ts";
import { createCa, issueCert, loadCa } from "../../src/pki/index.ts";
import { seedConfig } from "./support/seed-config.ts";

const ADDRS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"];
const LB_PORT = 19443;
const dir = mkdtempSync(join(tmpdir(), "lb-live-"));
const status = new Map<string, number>(ADDRS.map((a) => [a, 200]));
const servers = new Map<string, ReturnType<typeof Bun.serve>>();
let tls: { cert: string; key: string };
let haproxy: ReturnType<typeof Bun.spawn>;

function startApiserver(addr: string) {
  servers.set(
    addr,
    Bun.serve({
      hostname: addr,
      port: 6443,
      tls,
      fetch: (req) => {
        // haproxy's check is HTTP/1.0 without a Host header: req.url is then the bare path.
        const readyz = new URL(req.url, "https://apiserver").pathname === "/readyz";
        const code = status.get(addr)!;
        return new Response(readyz ? (code === 200 ? "ok" : "[-]etcd failed") : addr, { status: readyz ? code : 200 });
      },
    }),
  );
}

/** One request through haproxy on a new connection (haproxy balances connections): "status body", or the failure. */
async function viaLb(path = "/readyz"): Promise<string> {
  const p = Bun.spawn(["curl", "-sk", "--max-time", "5", "-w", "\n%{http_code}", `https://127.0.0.1:${LB_PORT}${path}`], { stdout: "pipe", stderr: "pipe" });
  const [out, code] = [await new Response(p.stdout).text(), await p.exited];
  if (code !== 0) return `failed: curl exit ${code}`;
  const [body, status] = [out.slice(0, out.lastIndexOf("\n")), out.slice(out.lastIndexOf("\n") + 1)];
  return `${status} ${body.trim()}`;
}

/** haproxy's own view: "backend/server" -> status, from the stats page the config binds to localhost. */
async function lbStatus(): Promise<Map<string, string>> {
  const r = await fetch("http://127.0.0.1:19188/stats;csv", { headers: { authorization: `Basic ${btoa("admin:pw-for-the-test")}` } });
  const rows = (await r.text()).split("\n").map((l) => l.split(","));
  return new Map(rows.filter((c) => c[0]?.startsWith("kube-apiserver") && c[1]?.startsWith("master")).map((c) => [`${c[0]}/${c[1]}`, c[17]!]));
}

async function until(what: string, ok: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await Bun.sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  const ca = await loadCa(await createCa({ commonName: "lb-live test CA" }), "test CA");
  const leaf = await issueCert(ca, { commonName: "kube-apiserver", sans: ADDRS, usages: ["server"] });
  tls = { cert: leaf.certPem, key: leaf.keyPem };
  for (const a of ADDRS) startApiserver(a);
  const base = seedConfig();
  const config = {
    ...base,
    hosts: base.hosts.map((h, i) => (i < 3 ? { ...h, address: ADDRS[i]! } : h)),
    loadBalancer: { ...base.loadBalancer, port: LB_PORT, statsPort: 19188 },
  };
  const cfg = renderHaproxy(config, "pw-for-the-test")
    // The test runs haproxy in the foreground as root, without the distribution's chroot and admin socket.
    .replace(/^\s*(chroot|user|group|daemon|stats socket|stats timeout|log \/dev\/log).*$/gm, "");
  writeFileSync(join(dir, "haproxy.cfg"), cfg);
  haproxy = Bun.spawn(["haproxy", "-db", "-f", join(dir, "haproxy.cfg")], { stdout: "ignore", stderr: "pipe" });
  await until("haproxy to serve", async () => (await viaLb()).startsWith("200"));
}, 30_000);

afterAll(() => {
  haproxy?.kill();
  for (const s of servers.values()) s.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

test("ready apiservers take the clients, round robin", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 9; i++) seen.add(await viaLb("/version"));
  expect([...seen].sort()).toEqual(ADDRS.map((a) => `200 ${a}`));
});

test("a lost apiserver leaves rotation: after the checks, no request fails", async () => {
  servers.get(ADDRS[0]!)!.stop(true);
  await until("master1 DOWN in both backends", async () => {
    const st = await lbStatus();
    return st.get("kube-apiserver/master1")!.startsWith("DOWN") && st.get("kube-apiserver-reachable/master1")!.startsWith("DOWN");
  });
  const after = await Promise.all(Array.from({ length: 20 }, () => viaLb("/version")));
  expect(after.filter((x) => !x.startsWith("200"))).toEqual([]);
  expect(after.some((x) => x.includes(ADDRS[0]!))).toBe(false);
});

test("no apiserver ready: clients still reach a live apiserver (its own 500), not a refused connection", async () => {
  for (const a of ADDRS) status.set(a, 500);
  await until("every ready-backend server DOWN", async () => [...(await lbStatus())].filter(([k]) => k.startsWith("kube-apiserver/")).every(([, v]) => v.startsWith("DOWN")));
  const st = await lbStatus();
  expect(["kube-apiserver-reachable/master2", "kube-apiserver-reachable/master3"].map((k) => st.get(k))).toEqual(["UP", "UP"]);
  const r = await Promise.all(Array.from({ length: 10 }, () => viaLb("/version")));
  expect(r.filter((x) => !x.startsWith("200"))).toEqual([]);
  for (const a of ADDRS) status.set(a, 200);
  await until("ready again", async () => (await lbStatus()).get("kube-apiserver/master2") === "UP");
}, 30_000);
