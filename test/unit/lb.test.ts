// The load balancer configs for each control-plane node, checked by the real daemons' parsers
// (Debian's haproxy and keepalived), and the refusal path when a template is broken.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderHaproxy, renderKeepalived, renderCheckScript, validated, haproxyCheckCmd, keepalivedCheckCmd } from "../../src/phases/lb.ts";
import { LocalHost } from "../../src/hosts/local.ts";
import { createCa, issueCert, loadCa } from "../../src/pki/index.ts";
import { seedConfig } from "./support/seed-config.ts";

const config = seedConfig();
const masters = config.hosts.slice(0, 3);
const dir = mkdtempSync(join(tmpdir(), "lb-test-"));
const local = new LocalHost({ name: "test", address: "127.0.0.1" });
// keepalived -t also checks that the interface exists and can do multicast: a veth pair made for this test.
const nic = "k8shalb0";
const sh = (cmd: string) => Bun.spawnSync(["sh", "-c", cmd]);
// keepalived runs a check script only from a path no other user can write to: not /tmp.
const scriptDir = "/run/k8sha-lbtest";
const script = `${scriptDir}/check_apiserver_lb.sh`;
beforeAll(async () => {
  sh(`ip link del ${nic} 2>/dev/null; ip link add ${nic} type veth peer name ${nic}p && ip link set ${nic} up`);
  sh(`rm -rf ${scriptDir} && mkdir -m 700 ${scriptDir}`);
  await local.writeFile(script, renderCheckScript(config), { mode: 0o700 });
});
afterAll(() => {
  sh(`ip link del ${nic}; rm -rf ${scriptDir}`);
});
const onLo = { ...config, loadBalancer: { ...config.loadBalancer, interface: nic } };

describe("keepalived", () => {
  const confs = masters.map((m) => renderKeepalived(config, m, "Xy7pQ2rT"));
  test("one MASTER at priority 250, then BACKUPs at 249 and 248", () => {
    expect(confs.map((c) => /state (\w+)/.exec(c)![1])).toEqual(["MASTER", "BACKUP", "BACKUP"]);
    expect(confs.map((c) => Number(/priority (\d+)/.exec(c)![1]))).toEqual([250, 249, 248]);
  });
  test("a failing check drops a node below every healthy one", () => {
    const weight = Number(/weight -(\d+)/.exec(confs[0]!)![1]);
    expect(250 - weight).toBeLessThan(248);
  });
  test("haproxy refusing connections means FAULT at once; both checks start failed (a rebooted node waits)", () => {
    for (const c of confs) {
      const listening = /vrrp_script haproxy_listening \{([^}]*)\}/.exec(c)![1]!;
      expect(listening).toMatch(/fall 1\b/);
      expect(listening).toContain("init_fail");
      expect(listening).not.toMatch(/weight/);
      expect(/vrrp_script check_apiserver_lb \{([^}]*)\}/.exec(c)![1]).toContain("init_fail");
      expect(c).toMatch(/track_script \{\s+haproxy_listening\s+check_apiserver_lb\s+\}/);
    }
  });
  test("the generated auth_pass is used, never the seed's 123456", () => {
    for (const c of confs) {
      expect(c).toContain("auth_pass Xy7pQ2rT");
      expect(c).not.toContain("123456");
    }
  });
  test("unicast mode names the node itself as source and the other masters as peers", () => {
    const uni = { ...config, loadBalancer: { ...config.loadBalancer, vrrpMode: "unicast" as const } };
    const c = renderKeepalived(uni, masters[1]!, "Xy7pQ2rT");
    expect(c).toContain("unicast_src_ip 192.168.217.20");
    expect(c).toMatch(/unicast_peer \{\s+192\.168\.217\.19\s+192\.168\.217\.21\s+\}/);
    expect(renderKeepalived(config, masters[1]!, "x")).not.toContain("unicast_peer");
  });
  test("nopreempt makes every node BACKUP", () => {
    const np = { ...config, loadBalancer: { ...config.loadBalancer, nopreempt: true } };
    expect(renderKeepalived(np, masters[0]!, "x")).toMatch(/state BACKUP[\s\S]*nopreempt/);
    // A weight would only lower the priority, which nopreempt ignores: a failing check must mean FAULT.
    expect(renderKeepalived(np, masters[0]!, "x")).not.toMatch(/weight/);
  });
  test("keepalived -t accepts every rendered config", async () => {
    for (const [i, c] of masters.map((m) => renderKeepalived(onLo, m, "Xy7pQ2rT", undefined, script)).entries()) {
      const file = join(dir, `keepalived-${i}.conf`);
      await validated(local, file, c, 0o600, keepalivedCheckCmd);
      expect(readFileSync(file, "utf8")).toBe(c);
    }
  });
});

describe("haproxy", () => {
  const cfg = renderHaproxy(config, "s3cr3t-generated-password");
  test("every apiserver is a backend, health-checked on /readyz over TLS", () => {
    for (const m of masters) expect(cfg).toContain(`server ${m.name} ${m.address}:6443 check check-ssl verify none`);
    expect(cfg).toContain("option httpchk GET /readyz");
    expect(cfg).toContain("bind *:9443");
  });
  test("stats only on localhost, with the generated password, never admin123", () => {
    expect(cfg).toContain("bind 127.0.0.1:9188");
    expect(cfg).toContain("stats auth admin:s3cr3t-generated-password");
    expect(cfg).not.toContain("admin123");
  });
  test("haproxy -c accepts the rendered config", async () => {
    const file = join(dir, "haproxy.cfg");
    await validated(local, file, cfg, 0o600, haproxyCheckCmd);
    expect(existsSync(file)).toBe(true);
  });
  test("a broken template is refused by the validator and the live file is left alone", async () => {
    const file = join(dir, "haproxy-live.cfg");
    await local.writeFile(file, cfg, { mode: 0o600 });
    const broken = renderHaproxy(config, "pw", readFileSync(join(import.meta.dir, "../../assets/haproxy/haproxy.cfg"), "utf8").replace("balance roundrobin", "balance no-such-algorithm"));
    await expect(validated(local, file, broken, 0o600, haproxyCheckCmd)).rejects.toThrow(/refused by its validator/);
    expect(readFileSync(file, "utf8")).toBe(cfg);
    expect(existsSync(`${file}.k8s-ha-offline-new`)).toBe(false);
  });
  test("keepalived -t refuses an interface the node does not have", async () => {
    await expect(validated(local, join(dir, "k-ens33.conf"), renderKeepalived(config, masters[0]!, "x", undefined, script), 0o600, keepalivedCheckCmd)).rejects.toThrow(/ens33/);
  });
  test("a broken keepalived template is refused too", async () => {
    const file = join(dir, "keepalived-live.conf");
    const broken = renderKeepalived(onLo, masters[0]!, "x", undefined, script).replace(/virtual_router_id \d+/, "virtual_router_id 999");
    await expect(validated(local, file, broken, 0o600, keepalivedCheckCmd)).rejects.toThrow(/refused by its validator/);
    expect(existsSync(file)).toBe(false);
  });
});

test("the VRRP check script asks haproxy on the LB port, not ss | grep", () => {
  const s = renderCheckScript(config);
  expect(s).toContain("https://127.0.0.1:9443/readyz");
  expect(s).not.toContain("ss ");
});

test("the check script's 'listening' mode fails only when nothing accepts on the LB port", async () => {
  // A listener that accepts and closes (no TLS): not refused, so "listening" passes while the full check,
  // once the cluster exists, would not; after it stops, the port refuses and "listening" fails.
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void s.end(), data() {} } });
  const port = server.port;
  const file = join(scriptDir, "listening.sh");
  await local.writeFile(file, renderCheckScript({ ...config, loadBalancer: { ...config.loadBalancer, port } }), { mode: 0o700 });
  expect(sh(`${file} listening`).exitCode).toBe(0);
  server.stop(true);
  expect(sh(`${file} listening`).exitCode).toBe(1);
});

test("the check fails for want of an apiserver only once one has answered (here or through the VIP): kubeadm init does not move the VIP", async () => {
  // This node's haproxy accepts and closes (no apiserver behind it); the VIP is another loopback address.
  const lbSide = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void s.end(), data() {} } });
  const port = lbSide.port;
  const vip = "127.0.0.21";
  const flag = join(scriptDir, "answered");
  const file = join(scriptDir, "answered.sh");
  await local.writeFile(file, renderCheckScript({ ...config, loadBalancer: { ...config.loadBalancer, port, vip } }, flag), { mode: 0o700 });
  const ca = await loadCa(await createCa({ commonName: "check-script test CA" }), "test CA");
  const leaf = await issueCert(ca, { commonName: "kube-apiserver", sans: ["127.0.0.1", vip], usages: ["server"] });
  const tls = { cert: leaf.certPem, key: leaf.keyPem };
  // Spawned without blocking: the listeners answer from this process's event loop.
  const run = (f: string) => Bun.spawn(["sh", "-c", f]).exited;
  try {
    // No apiserver anywhere yet (the cluster is being made): the same on every node, so not a fault.
    expect(await run(file)).toBe(0);
    expect(existsSync(flag)).toBe(false);
    // One answers through the VIP, not through this haproxy: the cluster exists, this node is at fault.
    const atVip = Bun.serve({ hostname: vip, port, tls, fetch: () => new Response("ok") });
    expect(await run(file)).toBe(1);
    expect(existsSync(flag)).toBe(true);
    atVip.stop(true);
    // Remembered: with the VIP silent too, no apiserver through this haproxy is still a fault.
    expect(await run(file)).toBe(1);
    // An apiserver through this haproxy (any HTTP status): fine.
    lbSide.stop(true);
    const here = Bun.serve({ hostname: "127.0.0.1", port, tls, fetch: () => new Response("[-]etcd failed", { status: 500 }) });
    expect(await run(file)).toBe(0);
    here.stop(true);
  } finally {
    lbSide.stop(true);
  }
});
