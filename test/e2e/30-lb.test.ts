// Issue 6's acceptance for the load balancer phase, before Kubernetes exists: a small TLS server
// (it reads the request line before answering, or haproxy's HTTP check calls the answer invalid)
// answering /readyz on :6443 of each master stands in for the apiservers (socat + a certificate
// made by our PKI), and the real haproxy + keepalived in the lab nodes are checked against it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { labExec, waitUntil } from "../lab/lab-client.ts";
import { onMaster1, MASTERS } from "./support.ts";
import { createCa, loadCa } from "../../src/pki/ca.ts";
import { issueCert } from "../../src/pki/cert.ts";

const VIP = "192.168.217.100";
const ADDR: Record<string, string> = { master1: "192.168.217.19", master2: "192.168.217.20", master3: "192.168.217.21" };
const haproxyPid = (n: string) => labExec(n, "systemctl show -p MainPID --value haproxy keepalived").then((r) => r.stdout.trim());

async function startBackend(n: string, pem: string) {
  await labExec(n, "mkdir -p /run/fake-apiserver && cat > /run/fake-apiserver/server.pem && chmod 600 /run/fake-apiserver/server.pem", { stdin: pem, check: true });
  await labExec(n, `systemd-run --unit=fake-apiserver socat OPENSSL-LISTEN:6443,bind=${ADDR[n]},cert=/run/fake-apiserver/server.pem,verify=0,fork,reuseaddr SYSTEM:"read -r request; printf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: ${n.length}\\r\\n\\r\\n${n}'"`, { check: true });
}
const stopBackend = (n: string) => labExec(n, "systemctl stop fake-apiserver; systemctl reset-failed fake-apiserver 2>/dev/null; true");

const vipHolders = async () => {
  const out: string[] = [];
  for (const n of MASTERS) if ((await labExec(n, `ip -o -4 addr show | grep -c ' ${VIP}/'`)).stdout.trim() !== "0") out.push(n);
  return out;
};

let install: Awaited<ReturnType<typeof onMaster1>>;
beforeAll(async () => {
  const ca = await createCa({ commonName: "lb-test-ca" });
  const signer = await loadCa(ca, "lb-test-ca");
  for (const n of MASTERS) {
    const leaf = await issueCert(signer, { commonName: n, sans: [ADDR[n]!, VIP], usages: ["server"] });
    await startBackend(n, leaf.certPem + leaf.keyPem);
  }
  install = await onMaster1("install -c cluster.yaml --yes --only lb");
});

afterAll(async () => {
  for (const n of MASTERS) await stopBackend(n);
});

test("the lb phase succeeds", () => expect(install.code).toBe(0));

test("exactly one master holds the VIP: master1, the highest priority", async () => {
  expect(await waitUntil("one VIP holder", async () => ((await vipHolders()).length === 1 ? vipHolders() : null), { timeoutMs: 15_000 })).toEqual(["master1"]);
});

const showStat = async () => (await labExec("master1", "echo 'show stat' | socat stdio /var/lib/haproxy/admin.sock")).stdout;

test("haproxy's health checks find every backend UP", async () => {
  let last = "";
  await waitUntil("three backends UP", async () => {
    last = await showStat();
    return MASTERS.every((m) => new RegExp(`^kube-apiserver,${m},.*,UP,`, "m").test(last));
  }, { timeoutMs: 30_000 }).catch((e) => {
    throw new Error(`${(e as Error).message}\n${last}`);
  });
});

test("the VIP on the LB port reaches the backends (round robin across masters)", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 9; i++) {
    const r = await labExec("node1", `curl -sk --max-time 3 https://${VIP}:9443/readyz`);
    expect(r.code).toBe(0);
    seen.add(r.stdout.trim());
  }
  expect([...seen].sort()).toEqual(MASTERS);
});

test("a stopped backend leaves rotation (DOWN on the admin socket) and no request fails after the check interval", async () => {
  await stopBackend("master2");
  try {
    await waitUntil("master2 DOWN in haproxy", async () => {
      return /^kube-apiserver,master2,.*,DOWN/m.test(await showStat());
    }, { timeoutMs: 20_000 });
    let failed = 0;
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = await labExec("node1", `curl -sk --max-time 3 https://${VIP}:9443/readyz`);
      if (r.code !== 0) failed++;
      else seen.add(r.stdout.trim());
    }
    expect(failed).toBe(0);
    expect([...seen].sort()).toEqual(["master1", "master3"]);
  } finally {
    const ca = await createCa({ commonName: "lb-test-ca2" });
    const leaf = await issueCert(await loadCa(ca, "x"), { commonName: "master2", sans: [ADDR.master2!], usages: ["server"] });
    await startBackend("master2", leaf.certPem + leaf.keyPem);
  }
});

test("haproxy stats are not reachable from a worker, and need the generated password on the node", async () => {
  const fromWorker = await labExec("node1", "curl -s --max-time 3 http://192.168.217.19:9188/stats; echo exit=$?");
  expect(fromWorker.stdout).toMatch(/exit=7/);
  const noAuth = await labExec("master1", "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9188/stats");
  expect(noAuth.stdout).toBe("401");
});

test("re-running the phase with an unchanged config reloads nothing (PIDs unchanged)", async () => {
  const before = await Promise.all(MASTERS.map(haproxyPid));
  const again = await onMaster1("install -c cluster.yaml --yes --only lb");
  expect(again.code).toBe(0);
  expect(again.stderr).toMatch(/^lb\s+[\d.]+s\s+3 nothing to do$/m);
  expect(await Promise.all(MASTERS.map(haproxyPid))).toEqual(before);
});

test("no default secret: keepalived auth_pass and haproxy stats password are generated, files 0600", async () => {
  for (const n of MASTERS) {
    const conf = (await labExec(n, "cat /etc/keepalived/keepalived.conf; stat -c '%a' /etc/keepalived/keepalived.conf /etc/haproxy/haproxy.cfg")).stdout;
    const pass = /auth_pass (\S+)/.exec(conf)![1]!;
    expect(pass).not.toBe("123456");
    expect(pass.length).toBe(8);
    expect(conf).toMatch(/600\n600\n$/);
    expect((await labExec(n, "grep -c admin123 /etc/haproxy/haproxy.cfg")).stdout.trim()).toBe("0");
  }
});
