// The failover drill's measuring and restoring logic against an in-memory VRRP model: three nodes
// with haproxy and keepalived as flags, a VIP that follows keepalived's rules after a delay, and
// requests that succeed when the VIP holder's haproxy runs. The lab suite proves it for real.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { HostError, type ExecOptions, type ExecResult, type Host } from "../../src/hosts/host.ts";
import { runFailoverDrill, renderFailoverTable, RETURN_HOLDOFF_SECONDS, type FailoverOptions } from "../../src/ops/failover.ts";
import { ServiceGuard } from "../../src/ops/service-guard.ts";
import { listsAddress } from "../../src/ops/vip.ts";

const VIP = "10.9.0.100";
setDefaultTimeout(30_000);

interface FakeNode {
  name: string;
  priority: number;
  haproxy: boolean;
  keepalived: boolean;
}

/** keepalived in miniature: the VIP goes to the highest effective priority after `moveMs`; a stopped keepalived drops it at once. */
class FakeVrrp {
  readonly nodes: FakeNode[];
  holder: string | null = "m1";
  readonly commands: string[] = [];
  private timer: Timer | undefined;
  /** When false the check script does not lower the priority (a broken track_script): the VIP never leaves. */
  checkWorks = true;
  onCommand: (cmd: string, node: string) => void = () => {};

  constructor(
    readonly moveMs: number,
    readonly nopreempt = false,
  ) {
    this.nodes = ["m1", "m2", "m3"].map((name, i) => ({ name, priority: 100 - i, haproxy: true, keepalived: true }));
  }

  node(name: string) {
    return this.nodes.find((n) => n.name === name)!;
  }

  private target(): string | null {
    const live = this.nodes.filter((n) => n.keepalived);
    const eff = (n: FakeNode) => n.priority - (this.checkWorks && !n.haproxy ? 50 : 0);
    // nopreempt as it has to be configured to fail over at all: a failing check puts the holder in FAULT.
    if (this.nopreempt && this.holder && this.node(this.holder).keepalived && this.node(this.holder).haproxy) return this.holder;
    return live.sort((a, b) => eff(b) - eff(a))[0]?.name ?? null;
  }

  private changed(): void {
    if (this.holder && !this.node(this.holder).keepalived) this.holder = null;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => (this.holder = this.target()), this.moveMs);
  }

  set(name: string, unit: "haproxy" | "keepalived", running: boolean) {
    this.node(name)[unit] = running;
    this.changed();
  }

  send = async () => {
    await Bun.sleep(2);
    if (!this.holder) throw new Error("connect ETIMEDOUT");
    if (!this.node(this.holder).haproxy) throw new Error("connect ECONNREFUSED");
  };

  host(name: string): Host {
    const vrrp = this;
    return {
      name,
      address: name,
      async exec(command, opts: ExecOptions = {}): Promise<ExecResult> {
        const cmd = String(command);
        vrrp.commands.push(`${name}: ${cmd}`);
        vrrp.onCommand(cmd, name);
        const ok = (stdout = ""): ExecResult => ({ code: 0, stdout, stderr: "" });
        if (cmd === "ip -o addr show")
          return ok(`1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 10.9.0.1/24 brd 10.9.0.255 scope global eth0\n${vrrp.holder === name ? `2: eth0    inet ${VIP}/32 scope global eth0\n` : ""}`);
        const m = /^systemctl (stop|start|is-active) '?(haproxy|keepalived)\.service'?$/.exec(cmd);
        if (!m) throw new HostError(name, `unexpected command ${cmd}`);
        const unit = m[2] as "haproxy" | "keepalived";
        if (m[1] === "is-active") {
          const active = vrrp.node(name)[unit];
          const r = { code: active ? 0 : 3, stdout: active ? "active\n" : "inactive\n", stderr: "" };
          if (opts.check !== false && r.code) throw new HostError(name, "inactive", r);
          return r;
        }
        vrrp.set(name, unit, m[1] === "start");
        return ok();
      },
      upload: async () => {},
      readFile: async () => null,
      writeFile: async () => false,
      close: async () => {},
    };
  }

  allRunning(): boolean {
    return this.nodes.every((n) => n.haproxy && n.keepalived);
  }
}

function drill(vrrp: FakeVrrp, extra: Partial<FailoverOptions> = {}) {
  return runFailoverDrill({
    nodes: vrrp.nodes.map((n) => ({ name: n.name, host: vrrp.host(n.name) })),
    vip: VIP,
    nopreempt: vrrp.nopreempt,
    budgets: { haproxy: 5, keepalived: 5 },
    send: vrrp.send,
    requestsPerSecond: 50,
    pollMs: 20,
    settleSeconds: 0.2,
    steadySeconds: 3,
    ...extra,
  });
}

describe("failover drill on a model cluster", () => {
  test("measures four events, VIP away and back, failed requests counted, nothing left stopped", async () => {
    const vrrp = new FakeVrrp(300);
    const report = await drill(vrrp);
    expect(report.error).toBeUndefined();
    expect(report.rows.map((r) => [r.event, r.before, r.after])).toEqual([
      ["haproxy stopped on m1", "m1", "m2"],
      ["haproxy started on m1", "m2", "m1"],
      ["keepalived stopped on m1", "m1", "m2"],
      ["keepalived started on m1", "m2", "m1"],
    ]);
    // The VIP is only moved after moveMs, so no event can have recovered sooner.
    for (const r of report.rows) expect(r.seconds!).toBeGreaterThanOrEqual(0.3);
    // While m1 held the VIP with haproxy stopped, and while no node held it, requests failed.
    expect(report.rows[0]!.failed).toBeGreaterThan(0);
    expect(report.rows[2]!.failed).toBeGreaterThan(0);
    for (const r of report.rows) expect(r.sent).toBeGreaterThan(r.failed);
    expect(report.ok).toBe(true);
    expect(vrrp.allRunning()).toBe(true);
    expect(vrrp.holder).toBe("m1");
    const table = renderFailoverTable(report);
    expect(table).toContain("haproxy stopped on m1");
    expect(table).toContain("m1 → m2");
    expect(table).toContain("every event within its budget");
    // A return's budget carries keepalived's hold-off: nothing is down while the node waits for its checks.
    expect(report.rows.map((r) => r.budget)).toEqual([5, 5 + RETURN_HOLDOFF_SECONDS, 5, 5 + RETURN_HOLDOFF_SECONDS]);
  });

  test("a return slower than the unit's budget is within it plus the hold-off", async () => {
    const vrrp = new FakeVrrp(300);
    const report = await drill(vrrp, { budgets: { haproxy: 0.25, keepalived: 5 }, returnHoldoffSeconds: 30 });
    expect(report.rows[0]!.withinBudget).toBe(false);
    expect(report.rows[1]!.seconds!).toBeGreaterThan(0.25);
    expect(report.rows[1]!.budget).toBe(30.25);
    expect(report.rows[1]!.withinBudget).toBe(true);
  });

  test("an event slower than its budget fails the drill but is still measured", async () => {
    const vrrp = new FakeVrrp(400);
    const report = await drill(vrrp, { budgets: { haproxy: 0.1, keepalived: 5 } });
    expect(report.rows[0]!.seconds).not.toBeNull();
    expect(report.rows[0]!.withinBudget).toBe(false);
    expect(report.ok).toBe(false);
    expect(renderFailoverTable(report)).toContain("OVER BUDGET");
    expect(vrrp.allRunning()).toBe(true);
  });

  test("a VIP that never moves: the event is reported unrecovered, the drill stops, haproxy runs again", async () => {
    const vrrp = new FakeVrrp(50);
    vrrp.checkWorks = false;
    const report = await drill(vrrp, { maxEventSeconds: 1 });
    expect(report.rows[0]!.seconds).toBeNull();
    expect(report.rows[0]!.after).toBe("m1");
    expect(report.rows[0]!.note).toContain("not recovered");
    expect(report.rows.some((r) => r.unit === "keepalived")).toBe(false);
    expect(report.error).toContain("stopped after haproxy");
    expect(report.ok).toBe(false);
    expect(vrrp.allRunning()).toBe(true);
  });

  test("interrupted (Ctrl-C) right after the stop: everything is started again", async () => {
    const vrrp = new FakeVrrp(300);
    const abort = new AbortController();
    vrrp.onCommand = (cmd) => {
      if (cmd.includes("stop") && cmd.includes("keepalived")) setTimeout(() => abort.abort(new Error("interrupted by SIGINT")), 50);
    };
    const report = await drill(vrrp, { signal: abort.signal });
    expect(report.error).toContain("interrupted by SIGINT");
    expect(report.restored).toEqual([{ node: "m1", unit: "keepalived.service", ok: true }]);
    expect(vrrp.allRunning()).toBe(true);
    expect(report.ok).toBe(false);
  });

  test("a guard shared with a signal handler restores once, however often it is asked", async () => {
    const vrrp = new FakeVrrp(10);
    const guard = new ServiceGuard();
    await guard.stop("m2", vrrp.host("m2"), "haproxy.service");
    await guard.stop("m3", vrrp.host("m3"), "keepalived.service");
    expect(guard.pending()).toEqual(["haproxy.service on m2", "keepalived.service on m3"]);
    const [a, b] = await Promise.all([guard.restoreAll(), guard.restoreAll()]);
    expect(a).toBe(b);
    expect(a.every((o) => o.ok)).toBe(true);
    expect(guard.pending()).toEqual([]);
    expect(vrrp.commands.filter((c) => c.includes("systemctl start")).length).toBe(2);
    expect(vrrp.allRunning()).toBe(true);
  });

  test("nopreempt: the VIP stays on the new holder when the old one comes back", async () => {
    const vrrp = new FakeVrrp(200, true);
    const report = await drill(vrrp);
    expect(report.rows.map((r) => `${r.event}: ${r.before} → ${r.after}`)).toEqual([
      "haproxy stopped on m1: m1 → m2",
      "haproxy started on m1: m2 → m2",
      "keepalived stopped on m2: m2 → m1",
      "keepalived started on m2: m1 → m1",
    ]);
    expect(report.ok).toBe(true);
    expect(vrrp.allRunning()).toBe(true);
  });

  test("no VIP holder to start from: nothing is stopped", async () => {
    const vrrp = new FakeVrrp(10);
    vrrp.holder = null;
    vrrp.nodes.forEach((n) => (n.keepalived = true));
    const report = await drill(vrrp, { steadySeconds: 0.5, send: async () => Promise.reject(new Error("no route")) });
    expect(report.error).toContain("no steady state");
    expect(report.error).toContain("no node");
    expect(report.rows).toEqual([]);
    expect(vrrp.commands.some((c) => c.includes("systemctl stop"))).toBe(false);
  });
});

describe("VIP lookup", () => {
  test("finds the address in real `ip -o addr` output and not a longer one sharing its prefix", () => {
    const out = Bun.spawnSync(["ip", "-o", "addr", "show"]).stdout.toString();
    expect(listsAddress(out, "127.0.0.1")).toBe(true);
    expect(listsAddress(out, "127.0.0.12")).toBe(false);
    expect(listsAddress("2: host0    inet 192.168.217.100/32 scope global host0", "192.168.217.10")).toBe(false);
    expect(listsAddress("2: host0    inet 192.168.217.100/32 scope global host0", "192.168.217.100")).toBe(true);
  });
});
