// `status` collection and verdict: nodes answer scripted command output (the real commands run in
// the lab suite), the depot is a real HTTPS server on loopback with a certificate of the depot PKI. A stopped or unhealthy etcd member,
// an unreachable node, a lost or doubled VIP, a failing depot and a NotReady node each degrade it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ExecResult, Host } from "../../src/hosts/host.ts";
import type { HostSpec } from "../../src/config/types.ts";
import { collectStatus, expectedServices, type StatusReport } from "../../src/ops/status.ts";
import { etcdctlError } from "../../src/cluster/etcd.ts";
import { renderStatusTable } from "../../src/ops/status-render.ts";
import { labCluster } from "./support/cluster-fixture.ts";
import { depotTls } from "./support/depot-tls.ts";

const config = labCluster();
let depot: ReturnType<typeof Bun.serve>;
/** master2's depot, on another loopback address; master3's is down (nothing listens at its URL). */
let depot2: ReturnType<typeof Bun.serve>;
let depot3Url = "";
let depotStatus = 200;
let depotCa = "";
let otherCa = "";

beforeAll(async () => {
  const [pki, other] = await Promise.all([depotTls(), depotTls()]);
  depotCa = pki.caPem;
  otherCa = other.caPem;
  depot = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: pki.tls,
    fetch: (req) => new Response("{}", { status: new URL(req.url).pathname === "/v2/" ? depotStatus : 404 }),
  });
  depot2 = Bun.serve({ port: 0, hostname: "127.0.0.2", tls: pki.tls, fetch: () => new Response("{}") });
  const gone = Bun.serve({ port: 0, hostname: "127.0.0.3", fetch: () => new Response("{}") });
  depot3Url = `https://127.0.0.3:${gone.port}`;
  gone.stop(true);
});
afterAll(() => {
  depot?.stop(true);
  depot2?.stop(true);
});

interface NodeState {
  down?: boolean;
  stopped?: string[];
  vip?: boolean;
  etcdDown?: boolean;
  leader?: boolean;
}

/** A node as `status` sees it: hostname + is-active words, ip addr, etcdctl health/status, kubectl. */
function fakeCluster(state: Record<string, NodeState>, kube: { ready?: Record<string, boolean>; installed?: boolean; depot3Up?: false } = {}) {
  const spec = (name: string) => config.hosts.find((h) => h.name === name)!;
  const host = (name: string): Host => ({
    name,
    address: spec(name).address,
    async exec(command): Promise<ExecResult> {
      const cmd = String(command);
      const ok = (stdout: string, code = 0) => ({ code, stdout, stderr: code ? "error: context deadline exceeded" : "" });
      if (cmd.startsWith("hostname;")) {
        const words = expectedServices(config, spec(name)).map((u) => (state[name]?.stopped?.includes(u) ? "inactive" : "active"));
        return ok(`${name}\n${words.join("\n")}\n`);
      }
      if (cmd === "ip -o addr show") return ok(`2: eth0    inet ${spec(name).address}/24 scope global eth0\n${state[name]?.vip ? `2: eth0    inet ${config.loadBalancer.vip}/32 scope global eth0\n` : ""}`);
      const etcd = /--endpoints=https:\/\/([\d.]+):2379 .* endpoint (health|status)/.exec(cmd);
      if (etcd) {
        const member = config.hosts.find((h) => h.address === etcd[1])!.name;
        if (state[member]?.etcdDown) return ok("", 1);
        return etcd[2] === "health"
          ? ok(`[{"endpoint":"https://${etcd[1]}:2379","health":true}]`)
          : ok(`[{"Endpoint":"x","Status":{"header":{"member_id":7},"leader":${state[member]?.leader ? 7 : 9},"version":"3.5.0"}}]`);
      }
      if (cmd.startsWith("test -f /etc/kubernetes/admin.conf")) return ok("", kube.installed === false ? 1 : 0);
      if (cmd.startsWith("kubectl ")) {
        const items = config.hosts.map((h) => ({
          metadata: { name: h.name },
          status: { conditions: [{ type: "Ready", status: kube.ready?.[h.name] === false ? "False" : "True" }] },
        }));
        return ok(JSON.stringify({ items }));
      }
      throw new Error(`unexpected command on ${name}: ${cmd}`);
    },
    upload: async () => {},
    readFile: async () => null,
    writeFile: async () => false,
    close: async () => {},
  });
  return {
    config,
    depots: [
      { node: "master1", url: `https://127.0.0.1:${depot.port}` },
      { node: "master2", url: `https://127.0.0.2:${depot2.port}` },
      ...(kube.depot3Up === false ? [{ node: "master3", url: depot3Url }] : []),
    ],
    depotCa,
    host: async (s: HostSpec) => {
      if (state[s.name]?.down) throw new Error(`${s.name}: connect ETIMEDOUT ${s.address}:22`);
      return host(s.name);
    },
  };
}

const HEALTHY: Record<string, NodeState> = { master1: { vip: true, leader: true } };

describe("status", () => {
  test("a healthy cluster: no problems, every table filled", async () => {
    const r = await collectStatus(fakeCluster(HEALTHY));
    expect(r.problems).toEqual([]);
    expect(r.healthy).toBe(true);
    expect(r.vip.holders).toEqual(["master1"]);
    expect(r.etcd.map((m) => [m.name, m.healthy, m.leader])).toEqual([["master1", true, true], ["master2", true, false], ["master3", true, false]]);
    expect(r.nodes.find((n) => n.name === "node1")!.services).toEqual({ containerd: "active", kubelet: "active" });
    expect(r.depots.map((d) => [d.node, d.ok])).toEqual([["master1", true], ["master2", true]]);
    const text = renderStatusTable(r);
    expect(text).toContain(`Depot of master2 https://127.0.0.2:${depot2.port}/v2/: up (HTTP 200)`);
    expect(text).toContain("VIP 10.77.0.100: held by master1");
    expect(text).toContain("Kubernetes: 4/4 Ready");
    expect(text.trimEnd().endsWith("status: healthy")).toBe(true);
  });

  test("etcd stopped on master3: the service and the member are degraded, named in the table", async () => {
    const r = await collectStatus(fakeCluster({ ...HEALTHY, master3: { stopped: ["etcd"], etcdDown: true } }));
    expect(r.healthy).toBe(false);
    expect(r.problems).toEqual(["master3: etcd is inactive", expect.stringContaining("etcd member master3 (https://10.77.0.13:2379) is unhealthy")]);
    const text = renderStatusTable(r);
    expect(text).toMatch(/^master3 .*INACTIVE/m);
    expect(text).toMatch(/^master3 +https:\/\/10\.77\.0\.13:2379 +UNHEALTHY/m);
    expect(text).toContain("status: DEGRADED (2 problems)");
  });

  test("an unreachable node, a split VIP, a failing depot and a NotReady node are each named", async () => {
    depotStatus = 503;
    try {
      const r = await collectStatus(fakeCluster({ master1: { vip: true, leader: true }, master2: { vip: true }, node1: { down: true } }, { ready: { node1: false } }));
      expect(r.problems).toEqual([
        "node1: unreachable (node1: connect ETIMEDOUT 10.77.0.21:22)",
        "VIP 10.77.0.100 is held by master1 and master2 at once (split brain: VRRP adverts do not reach each other)",
        `depot of master1 https://127.0.0.1:${depot.port}/v2/: HTTP 503`,
        "kubernetes: node node1 is NotReady",
      ]);
    } finally {
      depotStatus = 200;
    }
  });

  test("a depot whose certificate the depot CA did not sign, or no depot CA at hand, is a problem (never trusted blindly)", async () => {
    const impostor = await collectStatus({ ...fakeCluster(HEALTHY), depotCa: otherCa });
    expect(impostor.depots.map((d) => d.ok)).toEqual([false, false]);
    expect(impostor.problems[0]).toMatch(/^depot of master1 https:\/\/127\.0\.0\.1:\d+\/v2\/: .*(certificate|verify|issuer)/i);
    const none = await collectStatus({ ...fakeCluster(HEALTHY), depotCa: undefined });
    expect(none.depots[0]!.ok).toBe(false);
    expect(none.depots[0]!.detail).toContain("no depot CA here");
  });

  test("one master's depot down: that depot is named DOWN, the others up, the cluster degraded", async () => {
    const r = await collectStatus(fakeCluster(HEALTHY, { depot3Up: false }));
    expect(r.depots.map((d) => [d.node, d.ok])).toEqual([["master1", true], ["master2", true], ["master3", false]]);
    expect(r.problems).toEqual([expect.stringMatching(new RegExp(`^depot of master3 ${depot3Url.replace(/\./g, "\\.")}/v2/: `))]);
    expect(renderStatusTable(r)).toMatch(/^Depot of master3 \S+: DOWN \(/m);
  });

  test("no VIP holder, no etcd leader, no admin.conf: degraded, and JSON carries the same problems", async () => {
    const r: StatusReport = await collectStatus(fakeCluster({}, { installed: false }));
    expect(r.problems).toEqual([
      "etcd: no member reports being the leader",
      "VIP 10.77.0.100 is held by no control-plane node",
      "kubernetes: not installed (no /etc/kubernetes/admin.conf on master1)",
    ]);
    expect(JSON.parse(JSON.stringify(r)).problems).toEqual(r.problems);
  });

  test("expected services follow the roles", () => {
    const [m1, , , n1] = config.hosts;
    expect(expectedServices(config, m1!)).toEqual(["containerd", "kubelet", "etcd", "haproxy", "keepalived"]);
    expect(expectedServices(config, n1!)).toEqual(["containerd", "kubelet"]);
    // runtime: docker: docker is the kubelet's runtime, shown first; containerd runs under it.
    const docker = { ...config, kubernetes: { ...config.kubernetes, runtime: "docker" as const } };
    expect(expectedServices(docker, n1!)).toEqual(["docker", "containerd", "kubelet"]);
  });
});

describe("etcdctl's reason", () => {
  test("the verdict line wins over gRPC retry logs; the log's error when there is no verdict", () => {
    const log = `{"level":"warn","ts":"2026-11-25T13:57:38.506Z","caller":"clientv3/retry_interceptor.go:62","msg":"retrying of unary invoker failed","attempt":0,"error":"rpc error: code = DeadlineExceeded desc = latest balancer error: all SubConns are in TransientFailure"}`;
    expect(etcdctlError(`${log}\nhttps://192.168.217.21:2379 is unhealthy: failed to commit proposal: context deadline exceeded\nError: unhealthy cluster\n`)).toBe(
      "failed to commit proposal: context deadline exceeded",
    );
    expect(etcdctlError(log)).toBe("rpc error: code = DeadlineExceeded desc = latest balancer error: all SubConns are in TransientFailure");
    expect(etcdctlError("Error: open /etc/etcd/pki/healthcheck-client.crt: no such file or directory")).toBe("Error: open /etc/etcd/pki/healthcheck-client.crt: no such file or directory");
  });
});
