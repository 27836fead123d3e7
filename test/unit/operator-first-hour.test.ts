// Issue 19, "the operator's first hour": one test (or more) per numbered item, each asserting the
// new behaviour as the operator meets it (exit code, text, json). The terminal rendering (item 3)
// has its own tmux test in terminal-progress.test.ts.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { runCliInProcess } from "./support/run-cli.ts";
import { seedConfig } from "./support/seed-config.ts";
import { labCluster } from "./support/cluster-fixture.ts";
import { DirHost } from "./support/dir-host.ts";
import { dryRunProblems } from "../../src/cli/dry-run.ts";
import { renderInitConfig } from "../../src/config/init.ts";
import { parseConfig } from "../../src/config/load.ts";
import { fieldAt } from "../../src/config/schema.ts";
import { gatherFacts, parseFacts } from "../../src/phases/preflight/facts.ts";
import { evaluate } from "../../src/phases/preflight/checks.ts";
import { runCheckCerts, type CertReport } from "../../src/certs/index.ts";
import { collectStatus, expectedServices } from "../../src/ops/status.ts";
import { notInstalledAnywhere, renderStatusTable } from "../../src/ops/status-render.ts";
import { requireRoot, main } from "../../src/cli/main.ts";
import { runPhases, runPhase, PhaseFailure } from "../../src/phases/runner.ts";
import { HostError, type ExecResult, type Host } from "../../src/hosts/host.ts";
import type { Phase, PhaseContext } from "../../src/phases/phase.ts";
import { createProgress, hostLine, shortDetail, type Progress } from "../../src/cli/progress.ts";
import { nextSteps } from "../../src/cli/commands/install.ts";
import { useColor } from "../../src/cli/color.ts";
import { invokedAs } from "../../src/cli/invoked.ts";
import { pruneLogs } from "../../src/util/log.ts";
import { keepLogs } from "../../src/cli/context.ts";
import { EXIT_CODES, exitCodesOf } from "../../src/cli/commands-meta.ts";
import { bashCompletion, zshCompletion } from "../../src/cli/completion.ts";
import { rewriteKubeconfigServer } from "../../src/cli/commands/kubeconfig.ts";
import type { BundleLock } from "../../src/depot/lock.ts";
import type { HostSpec } from "../../src/config/types.ts";

const dirs: string[] = [];
const tmp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const LOCK = (profile: string, kubernetesVersion = "1.22.2"): BundleLock => ({ profile, kubernetesVersion, created: "2026-11-30T00:00:00Z", files: [], images: [] });

/** Runs the CLI in this process with an embedded lock (or none) for the duration of the call. */
async function cli(args: string[], opts: { lock?: BundleLock | null; cwd?: string; env?: Record<string, string | undefined> } = {}) {
  const saved = { ...process.env };
  const cwd = process.cwd();
  process.env.K8S_HA_EMBEDDED_LOCK = opts.lock ? JSON.stringify(opts.lock) : "";
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  if (opts.cwd) process.chdir(opts.cwd);
  let stdout = "";
  const write = process.stdout.write.bind(process.stdout);
  const info = console.info;
  process.stdout.write = ((c: string) => ((stdout += c), true)) as typeof process.stdout.write;
  console.info = (...a: unknown[]) => void (stdout += a.join(" ") + "\n"); // cac prints help with console.info
  try {
    const r = await runCliInProcess(args);
    return { ...r, out: r.out + stdout };
  } finally {
    process.stdout.write = write;
    console.info = info;
    process.chdir(cwd);
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

/**
 * A config on TEST-NET addresses (never the lab's), whose SSH key does not exist: every connection
 * fails at once, before any packet, so "could not reach" paths run in milliseconds.
 */
function offlineConfig(extra: [string, string][] = []): { file: string; stateDir: string } {
  const dir = tmp("first-hour-");
  const stateDir = join(dir, "state");
  let text = renderInitConfig()
    .replaceAll("192.168.217.", "192.0.2.")
    .replace("keyFile: /root/.ssh/id_ed25519", `keyFile: ${join(dir, "no-such-key")}`)
    .replace("knownHostsFile: /var/lib/k8s-ha-offline/known_hosts", `knownHostsFile: ${join(dir, "known_hosts")}`)
    .replace("stateDir: /var/lib/k8s-ha-offline", `stateDir: ${stateDir}`)
    .replace("connectTimeoutSeconds: 10", "connectTimeoutSeconds: 1")
    .replace("dir: ./bundle-el7-k8s1.22", `dir: ${join(dir, "bundle-el7-k8s1.22")}`);
  for (const [from, to] of extra) text = text.replace(from, to);
  const file = join(dir, "cluster.yaml");
  writeFileSync(file, text);
  return { file, stateDir };
}

describe("1. install --dry-run checks everything it can and exits 1 listing every problem", () => {
  test("no lock, no bundle, missing key, not master1: all listed; exit 1 through the CLI", async () => {
    const { file } = offlineConfig();
    const r = await cli(["install", "--dry-run", "-c", file], { lock: null });
    expect(r.code).toBe(1);
    expect(r.out).toContain("nothing will be changed");
    expect(r.err).toContain("bundle lock: this binary carries none");
    expect(r.err).toContain("no-such-key");
    expect(r.err).toContain("this machine is not a control-plane node");
  });

  test("the real install finds the same problems before its [y/N] question, not after", async () => {
    const { file } = offlineConfig();
    const r = await cli(["install", "-c", file], { lock: null });
    expect(r.code).toBe(1);
    expect(r.err).toContain("the install cannot start; no node was changed");
    expect(r.err).toContain("bundle lock: this binary carries none");
    expect(r.err).not.toContain("[y/N]");
    expect(r.err).not.toContain("--yes");
  });

  test("with a lock: the bundle directory, the profile and the Kubernetes version are checked against it", async () => {
    const { file } = offlineConfig();
    const r = await cli(["install", "--dry-run", "-c", file], { lock: LOCK("debian12", "1.30.6") });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bundle directory .*bundle-el7-k8s1\.22 does not exist/);
    expect(r.err).toContain("this binary was built for debian12");
    expect(r.err).toContain("the bundle holds 1.30.6");
  });

  test("on master1 with a readable key and a whole bundle, only an SSH port that does not answer is left", async () => {
    const dir = tmp("dry-run-");
    const key = join(dir, "id");
    writeFileSync(key, "key", { mode: 0o600 });
    mkdirSync(join(dir, "bundle"));
    const config = seedConfig([["keyFile: /root/.ssh/id_ed25519", `keyFile: ${key}`]]);
    const asked: string[] = [];
    const problems = await dryRunProblems({
      config,
      bundleDir: join(dir, "bundle"),
      lock: LOCK("el7-k8s1.22"),
      localAddresses: ["192.168.217.19"],
      portOpen: async (a, p) => (asked.push(`${a}:${p}`), a !== "192.168.217.21"),
    });
    expect(asked).toEqual(["192.168.217.20:22", "192.168.217.21:22", "192.168.217.22:22"]);
    expect(problems).toEqual([expect.stringContaining("SSH: master3 (192.168.217.21:22) does not answer")]);
  });
});

describe("4. preflight's clock skew is measured with its own short call", () => {
  test("a facts script that takes 2.5 s does not make a node read seconds off against itself", async () => {
    const host = {
      name: "master1",
      address: "192.168.217.19",
      async exec(cmd: unknown): Promise<ExecResult> {
        const text = String(cmd);
        if (text.trim() === "date +%s.%N") return { code: 0, stdout: `${(Date.now() / 1000).toFixed(6)}\n`, stderr: "" };
        await Bun.sleep(2500); // the facts script: ss, df, ip on a slow node
        return { code: 0, stdout: "os_id=debian\nos_version=12\n", stderr: "" };
      },
    } as unknown as Host;
    const f = await gatherFacts(host);
    expect(Math.abs(f.clock - (f.localClockAtReply - f.roundTripS / 2))).toBeLessThan(0.5);
    expect(f.roundTripS).toBeLessThan(0.5);
  });
});

describe("5. check-certs: could-not-check has its own exit code and a row in every format", () => {
  const config = labCluster();
  const emptyHost = (name: string) => {
    const root = tmp("certs-empty-");
    return new DirHost(root, name, config.hosts.find((h) => h.name === name)!.address);
  };

  test("one node unreachable: exit 3, an `unreachable` row in table, json, yaml and prometheus", async () => {
    const hosts = ["master1", "master2"].map(emptyHost);
    const unreachable = [{ node: "master3", error: "connect ECONNREFUSED 10.77.0.13:22" }];
    const table = await runCheckCerts({ hosts, config, output: "table", unreachable });
    expect(table.exitCode).toBe(3);
    expect(table.text).toMatch(/^master3\s+\(node\)\s+.*unreachable$/m);
    expect(table.text).toContain("master3 (node): cannot connect: connect ECONNREFUSED 10.77.0.13:22");
    const json = JSON.parse((await runCheckCerts({ hosts, config, output: "json", unreachable })).text) as CertReport;
    expect(json.exitCode).toBe(3);
    expect(json.certificates.find((r) => r.node === "master3")).toMatchObject({ certificate: "(node)", status: "unreachable" });
    const yaml = parseYaml((await runCheckCerts({ hosts, config, output: "yaml", unreachable })).text) as CertReport;
    expect(yaml.summary.unreachable).toBe(1);
    const prom = (await runCheckCerts({ hosts, config, output: "prometheus", unreachable })).text;
    expect(prom).toContain('k8s_ha_offline_cert_node_checked{node="master3",reason="unreachable"} 0');
    expect(prom).toContain("k8s_ha_offline_cert_check_exit_code 3");
  });

  test("a node with no certificate where its roles need some: a `missing` row, exit 3, not '0 certificates, ok'", async () => {
    const r = await runCheckCerts({ hosts: [emptyHost("master1")], config, output: "json" });
    const report = JSON.parse(r.text) as CertReport;
    expect(r.exitCode).toBe(3);
    expect(report.certificates).toEqual([expect.objectContaining({ node: "master1", status: "missing" })]);
  });

  test("through the CLI: nodes that cannot be reached give exit 3 and one row each; prometheus is a valid exposition", async () => {
    const { file } = offlineConfig();
    const r = await cli(["check-certs", "-c", file, "--output", "json"]);
    expect(r.code).toBe(3);
    const report = JSON.parse(r.out) as CertReport;
    expect(report.certificates.map((c) => `${c.node} ${c.status}`).sort()).toEqual(["master1 unreachable", "master2 unreachable", "master3 unreachable"]);
    const prom = await cli(["check-certs", "-c", file, "--output", "prometheus"]);
    for (const line of prom.out.trim().split("\n")) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?\d+(\.\d+)?)$/);
  });

  test("the prometheus expiry gauge carries node, path and subject", async () => {
    const report = {
      generatedAt: "2026-12-01T00:00:00.000Z",
      warnDays: 30,
      exitCode: 0 as const,
      summary: { ok: 1, warn: 0, expired: 0, broken: 0, unreachable: 0, missing: 0 },
      certificates: [{ node: "master1", certificate: "/etc/kubernetes/pki/apiserver.crt", subject: 'CN=kube-apiserver "x"', notAfter: "2027-12-01T00:00:00.000Z", residualDays: 365, ca: "ca.crt", status: "ok" as const, problems: [], sans: [], serial: null, fingerprint: null }],
    };
    const { renderReport } = await import("../../src/certs/report.ts");
    expect(renderReport(report, "prometheus")).toContain(`k8s_ha_offline_cert_expiry_seconds{node="master1",path="/etc/kubernetes/pki/apiserver.crt",subject="CN=kube-apiserver \\"x\\""} ${Date.parse("2027-12-01T00:00:00Z") / 1000}`);
  });
});

describe("6. status on a cluster that is not installed", () => {
  const config = labCluster();
  const bare = (name: string): Host =>
    ({
      name,
      address: config.hosts.find((h) => h.name === name)!.address,
      async exec(cmd: unknown): Promise<ExecResult> {
        const text = String(cmd);
        if (text.startsWith("hostname;")) {
          const spec = config.hosts.find((h) => h.name === name)!;
          return { code: 0, stdout: `${name}\n${expectedServices(config, spec).map(() => "inactive").join("\n")}\nunmarked\n`, stderr: "" };
        }
        // Anything else would be etcdctl / kubectl / ip on a node that has none of it.
        return { code: 127, stdout: "", stderr: "sh: etcdctl: not found" };
      },
      readFile: async () => null,
      close: async () => {},
    }) as unknown as Host;

  test("'not installed' per node, each node named once, no etcdctl or connection-refused text", async () => {
    const r = await collectStatus({ config, host: async (s: HostSpec) => bare(s.name), depotUrl: "https://127.0.0.1:1", depotCa: undefined });
    expect(notInstalledAnywhere(r)).toBe(true);
    expect(r.problems).toEqual(config.hosts.map((h) => `${h.name}: not installed`));
    const table = renderStatusTable(r);
    for (const h of config.hosts) expect(table.match(new RegExp(`\\b${h.name}\\b`, "g"))!.length).toBe(2); // its row and the verdict line
    expect(table).toMatch(/^master1\s+10\.77\.0\.11\s+control-plane,etcd\s+not installed$/m);
    expect(table).toContain("status: NOT INSTALLED on master1, master2, master3, node1");
    expect(table).not.toMatch(/etcdctl|ECONNREFUSED|Unable to connect/);
    expect(JSON.parse(JSON.stringify(r)).notInstalled).toEqual(["master1", "master2", "master3", "node1"]);
  });
});

describe("7. non-root", () => {
  test("a command that needs root refuses with 'run as root (or with sudo)', exit 2, before any prompt", async () => {
    expect(() => requireRoot("install", "./k8s-ha-offline", 1000)).toThrow(/needs root/);
    const getuid = process.getuid;
    process.getuid = () => 1000;
    try {
      const { file } = offlineConfig();
      const r = await cli(["install", "-c", file, "--yes"]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("hint: run as root (or with sudo)");
      // Read-only commands are not refused for it (they say why when a file is unreadable).
      expect((await cli(["phases", "-c", file])).code).toBe(0);
      // A dry run needs no root either: it only reads.
      expect((await cli(["install", "--dry-run", "-c", file])).err).not.toContain("run as root (or with sudo):");
    } finally {
      process.getuid = getuid;
    }
  });
});

/** A phase that runs "once" on master1 and needs master2: its handshake fails. */
const needsMaster2: Phase = {
  name: "kubeadm-init",
  title: "kubeadm init on master1",
  mode: "once",
  hosts: (c) => c.hosts.filter((h) => h.roles.includes("control-plane")),
  check: async () => ({ todo: true, why: "not initialised" }),
  run: async () => {
    throw new HostError("master2", "SSH handshake failed: no matching host key type");
  },
};

function recorder(): Progress & { lines: string[] } {
  const lines: string[] = [];
  const out = { isTTY: false, write: (s: string) => void lines.push(...s.split("\n").filter(Boolean)) } as unknown as NodeJS.WriteStream;
  return Object.assign(createProgress(out, false, false), { lines });
}

describe("8. a failure is told once and names the node whose handshake failed", () => {
  test("the error names master2, not master1, and the detail appears once in all the output", async () => {
    const config = seedConfig();
    const progress = recorder();
    const ctx = { config, log: { info() {}, warn() {}, debug() {} } } as unknown as PhaseContext;
    const err = (await runPhases([needsMaster2], ctx, { concurrency: 4 }, progress).catch((e) => e)) as PhaseFailure;
    expect(err).toBeInstanceOf(PhaseFailure);
    expect(err.message).toContain('failed on master2:\n  master2: SSH handshake failed: no matching host key type (while working from master1)');
    expect(err.message).not.toContain("master1: master2:");
    const all = [...progress.lines, ...err.message.split("\n")].join("\n");
    expect(all.split("no matching host key type").length - 1).toBe(1);
    expect(progress.lines).toContain("    master1      failed (because of master2, see below)");
  });
});

describe("9. init from the bundle this binary carries", () => {
  test("profile, Kubernetes version and bundle dir come from the embedded lock (CLI, debian12 binary)", async () => {
    const dir = tmp("init-");
    const r = await cli(["init", "-o", join(dir, "cluster.yaml")], { lock: LOCK("debian12", "1.22.2") });
    expect(r.code).toBe(0);
    const text = readFileSync(join(dir, "cluster.yaml"), "utf8");
    expect(text).toMatch(/^ {2}profile: debian12 +#/m);
    expect(text).toMatch(/^ {2}dir: \.\/bundle-debian12 +#/m);
    expect(text).not.toMatch(/bundle-el7|profile: el7/);
    expect(parseConfig(text, "cluster.yaml", dir).bundle.profile).toBe("debian12");
    const el9 = parseConfig(renderInitConfig(LOCK("el9", "1.30.6")), "c.yaml", dir);
    expect([el9.bundle.profile, el9.kubernetes.version]).toEqual(["el9", "1.30.6"]);
  });

  test("consistent defaults: virtualRouterId as the schema and README say, a neutral name, calico offered only with its condition", () => {
    const text = renderInitConfig();
    const readme = readFileSync(join(import.meta.dir, "../../README.md"), "utf8");
    const vrid = /virtualRouterId: (\d+)/.exec(text)![1];
    expect(fieldAt("loadBalancer.virtualRouterId")!.default).toBe(Number(vrid));
    expect(readme).toContain(`| \`loadBalancer.virtualRouterId\` | integer 1-255 | \`${vrid}\` |`);
    expect(text).not.toMatch(/^name: seed/m);
    expect(text).toMatch(/^ {2}cni: flannel +# flannel \| calico \(only when the bundle carries it/m);
  });
});

describe("10. the install ends with next steps", () => {
  test("kubeconfig path, kubectl get nodes, https://VIP:PORT, status, check-certs, backup, the log", () => {
    const text = nextSteps(seedConfig(), "/var/lib/k8s-ha-offline/logs/install-x.log");
    for (const s of ["/root/.kube/config", "kubectl get nodes", "https://192.168.217.100:9443", " status ", " check-certs ", " backup ", "kubeconfig", "/var/lib/k8s-ha-offline/logs/install-x.log"])
      expect(text).toContain(s);
  });
});

describe("11. per-host detail", () => {
  test("a done host shows what its check found as the state before, long lines are cut", () => {
    expect(hostLine({ host: "master2", status: "done", detail: "not joined", ms: 1 })).toBe("    master2      done (was: not joined)");
    const long = Array.from({ length: 30 }, (_, i) => `package-number-${i} 1.2.3-1 (want 1.2.4-1)`).join(", ");
    const line = hostLine({ host: "node1", status: "done", detail: long, ms: 1 });
    expect(line.length).toBeLessThan(140);
    expect(line).toMatch(/… \(\+\d+ more\)\)$/);
    expect(shortDetail("short")).toBe("short");
  });

  test("what a phase reports (the nodes table) prints after its ✓ line", async () => {
    const config = seedConfig();
    const events: string[] = [];
    const progress = { print() {}, phaseStarted() {}, hostStarted() {}, hostFinished() {}, phaseFinished: (o: { name: string }) => void events.push(`✓ ${o.name}`), stop() {} };
    const ctx = { config, log: { info: (m: string) => void events.push(m), warn() {}, debug() {} } } as unknown as PhaseContext;
    const post: Phase = { name: "post", title: "post", mode: "once", hosts: (c) => c.hosts, check: async () => ({ todo: true, why: "x" }), run: async (c) => c.report!("NODES TABLE") };
    await runPhase(post, ctx, { concurrency: 1 }, progress);
    expect(events).toEqual(["✓ post", "NODES TABLE"]);
  });
});

describe("12. the VIP with its prefix", () => {
  test("init writes the VIP with /24", () => {
    expect(renderInitConfig()).toMatch(/^ {2}vip: 192\.168\.217\.100\/24 /m);
    expect(seedConfig().loadBalancer.vipPrefix).toBe(24);
  });

  test("preflight checks the VIP against the interface's network on the masters, even without a /prefix", () => {
    const config = seedConfig([["vip: 192.168.217.100/24", "vip: 192.168.218.100"]]);
    const now = Date.now() / 1000;
    const facts = new Map(
      config.hosts.map((h, i) => [
        h.name,
        parseFacts(
          [`os_id=centos`, "os_version=7", "arch=x86_64", "cpus=4", "mem_kb=8000000", `hostname=${h.name}`, `machine_id=${i}`, `addr=ens33 ${h.address}/24`, "root_free_kb=90000000", `clock=${now}`].join("\n"),
          now,
          now,
        ),
      ]),
    );
    const vip = evaluate(config, facts, false).filter((f) => f.check === "VIPSubnet");
    expect(vip.map((f) => `${f.host} ${f.level}`)).toEqual(["master1 error", "master2 error", "master3 error"]);
    expect(vip[0]!.message).toBe("the VIP 192.168.218.100 is not on ens33's network 192.168.217.0/24");
    const good = evaluate(seedConfig(), facts, false).filter((f) => f.check === "VIPSubnet");
    expect(good.every((f) => f.level === "ok")).toBe(true);
  });
});

describe("13. polish", () => {
  test("NO_COLOR and a dumb terminal turn colour off; a pipe never gets it", () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(useColor({ isTTY: true }, { TERM: "dumb" })).toBe(false);
    expect(useColor({ isTTY: false }, {})).toBe(false);
  });

  test("a command's --help starts with what the command does, and ends with its exit codes", async () => {
    const r = await cli(["check-certs", "--help"]);
    const lines = r.out.split("\n").filter(Boolean);
    expect(lines[0]).toMatch(/^k8s-ha-offline \d+\.\d+\.\d+/);
    expect(lines[1]).toBe("List every certificate on every control-plane and etcd node with its expiry");
    expect(r.out).toMatch(/Exit codes:\n {2}0 {2}every certificate ok\n {2}1 .*\n {2}2 .*\n {2}3 {2}could not check.*\n {2}4 {2}a certificate expired/);
  });

  test("--dry-run on a command that cannot honour it is refused (exit 2)", async () => {
    for (const c of [["status"], ["check-certs"], ["init"], ["serve"]]) {
      const r = await cli([...c, "--dry-run"]);
      expect({ c, code: r.code }).toEqual({ c, code: 2 });
      expect(r.err).toContain(`${c[0]} has no --dry-run`);
    }
  });

  test("did you mean, for commands and flags", async () => {
    const a = await cli(["instal"]);
    expect([a.code, a.err]).toEqual([2, expect.stringContaining('did you mean "')]);
    expect(a.err).toMatch(/did you mean ".* install"\?/);
    const b = await cli(["install", "--dryrun"]);
    expect(b.code).toBe(2);
    expect(b.err).toContain("unknown option --dryrun for install");
    expect(b.err).toContain("did you mean --dry-run?");
  });

  test("one version string: --version, -V, the help header and `version` agree", async () => {
    const v = (await cli(["--version"])).out.trim();
    expect(v).toMatch(/^k8s-ha-offline \d+\.\d+\.\d+$/);
    expect((await cli(["-V"])).out.trim()).toBe(v);
    expect((await cli(["--help"])).out.split("\n")[0]).toBe(v);
    expect((await cli(["version"])).out.startsWith(`${v} (`)).toBe(true);
  });

  test("hints print the way the binary was invoked", () => {
    expect(invokedAs({ argv: ["bun", "/$bunfs/root/k8s-ha-offline"], argv0: "./k8s-ha-offline" })).toBe("./k8s-ha-offline");
    expect(invokedAs({ argv: ["bun", "/$bunfs/root/k8s-ha-offline"], argv0: "/usr/local/bin/k8s-ha-offline" })).toBe("/usr/local/bin/k8s-ha-offline");
    expect(invokedAs({ argv: ["/usr/bin/bun", "src/cli.ts"], argv0: "bun" })).toBe("bun src/cli.ts");
  });

  test("init -o into a directory that takes no files: a clear message, exit 2", async () => {
    const r = await cli(["init", "-o", "/proc/cluster.yaml"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("error: cannot write /proc/cluster.yaml");
    expect(r.err).toContain("hint: pass -o with a path in a directory you can write");
    expect(r.err).not.toMatch(/^\s+at /m);
  });
});

describe("14. logs", () => {
  test("the newest N logs of a command are kept, other commands' logs and other files untouched", () => {
    const dir = tmp("logs-");
    const names = [1, 2, 3, 4, 5].map((i) => `check-certs-2026-12-01T00-0${i}-00-000Z.log`);
    for (const n of [...names, "install-2026-11-01T00-00-00-000Z.log", "notes.txt"]) writeFileSync(join(dir, n), "x");
    expect(pruneLogs(dir, "check-certs", 2).sort()).toEqual(names.slice(0, 3));
    expect(readdirSync(dir).sort()).toEqual([...names.slice(3), "install-2026-11-01T00-00-00-000Z.log", "notes.txt"].sort());
    expect(keepLogs({}, {})).toBe(20);
    expect(keepLogs({}, { K8S_HA_KEEP_LOGS: "3" })).toBe(3);
    expect(keepLogs({ keepLogs: "5" }, { K8S_HA_KEEP_LOGS: "3" })).toBe(5);
    expect(() => keepLogs({ keepLogs: "many" })).toThrow(/--keep-logs must be a whole number/);
  });

  test("runs of a read-only command leave at most --keep-logs logs; a failure prints its log path", async () => {
    const { file, stateDir } = offlineConfig();
    for (let i = 0; i < 3; i++) await cli(["check-certs", "-c", file, "--keep-logs", "2"]);
    expect(readdirSync(join(stateDir, "logs")).filter((n) => n.startsWith("check-certs-")).length).toBe(2);
    const failed = await cli(["preflight", "-c", file]);
    expect(failed.code).toBe(1);
    expect(failed.err).toMatch(new RegExp(`log: ${stateDir}/logs/preflight-[\\dTZ-]+\\.log`));
  });
});

describe("15. --output json/yaml with a documented schema; exit codes documented", () => {
  test("phases, preflight and status print json (and yaml) on stdout", async () => {
    const { file } = offlineConfig();
    const phases = JSON.parse((await cli(["phases", "-c", file, "--output", "json"])).out);
    expect(phases.phases[0]).toMatchObject({ order: 1, name: "preflight", mode: "once", hosts: ["master1", "master2", "master3", "node1"] });
    const pre = await cli(["preflight", "-c", file, "--output", "json"]);
    expect(pre.code).toBe(1);
    const p = JSON.parse(pre.out);
    expect(p.ok).toBe(false);
    expect(p.unreachable.map((u: { host: string }) => u.host)).toEqual(["master1", "master2", "master3", "node1"]);
    const st = await cli(["status", "-c", file, "--output", "yaml"]);
    expect(st.code).toBe(3);
    expect((parseYaml(st.out) as { status: string }).status).toBe("unreachable");
  });

  test("docs/output.md documents every command's output and every exit code the commands declare", () => {
    const doc = readFileSync(join(import.meta.dir, "../../docs/output.md"), "utf8");
    for (const c of ["preflight", "phases", "status", "check-certs"]) expect(doc).toContain(`## ${c}`);
    for (const [cmd, codes] of Object.entries(EXIT_CODES)) for (const [code] of codes) expect({ cmd, code, documented: doc.includes(`| \`${cmd}\` | ${code} |`) }).toEqual({ cmd, code, documented: true });
    expect(exitCodesOf("check-certs").map(([c]) => c)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe("16. completion and kubeconfig", () => {
  test("bash and zsh completion scripts are valid shell and complete commands, flags and phases", async () => {
    const bash = await cli(["completion", "bash"]);
    expect(bash.code).toBe(0);
    expect(bash.out).toContain("complete -o default -F _k8s_ha_offline k8s-ha-offline");
    expect(bash.out).toContain("check-certs");
    expect(bash.out).toContain("--dry-run");
    expect(bash.out).toContain("kubeadm-init");
    const file = join(tmp("completion-"), "c.bash");
    writeFileSync(file, bash.out);
    // Complete "k8s-ha-offline check-c" and "install --dr" in a real bash.
    const run = Bun.spawnSync(["bash", "-c", `source ${file}; COMP_WORDS=(k8s-ha-offline check-c); COMP_CWORD=1; _k8s_ha_offline; echo "\${COMPREPLY[@]}"; COMP_WORDS=(k8s-ha-offline install --dr); COMP_CWORD=2; _k8s_ha_offline; echo "\${COMPREPLY[@]}"`]);
    expect(run.stdout.toString().trim().split("\n")).toEqual(["check-certs", "--dry-run"]);
    const zsh = await cli(["completion", "zsh"]);
    expect(zsh.out.startsWith("#compdef k8s-ha-offline")).toBe(true);
    if (Bun.which("zsh")) expect(Bun.spawnSync(["zsh", "-n", "-c", zsh.out]).exitCode).toBe(0);
    expect((await cli(["completion", "fish"])).code).toBe(2);
    expect(bashCompletion({ commands: [], globalFlags: [] }, []).length).toBeGreaterThan(0);
    expect(zshCompletion({ commands: [], globalFlags: [] }, []).length).toBeGreaterThan(0);
  });

  test("kubeconfig: the server is the VIP endpoint, credentials untouched", () => {
    const conf = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://192.168.217.19:6443\n  name: kubernetes\nusers:\n- name: kubernetes-admin\n  user:\n    client-key-data: S0VZ\n";
    const out = rewriteKubeconfigServer(conf, "https://192.168.217.100:9443");
    expect(out).toBe(conf.replace("https://192.168.217.19:6443", "https://192.168.217.100:9443"));
    expect(() => rewriteKubeconfigServer("nothing", "https://x:1")).toThrow(/no "server:" line/);
  });

  test("kubeconfig through the CLI reads admin.conf on master1 (here: this machine) and prints it for the VIP", async () => {
    const { file } = offlineConfig();
    const r = await cli(["kubeconfig", "-c", file]);
    // master1 (192.0.2.19) cannot be reached with the missing key: a clear failure, no stack.
    expect(r.code).toBe(1);
    expect(r.err).toContain("no-such-key");
    expect(r.err).not.toMatch(/^\s+at /m);
  });
});

test("every numbered item is covered above", () => {
  const src = readFileSync(import.meta.path, "utf8");
  for (const n of [1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]) expect(src).toContain(`describe("${n}. `);
  expect(existsSync(join(import.meta.dir, "terminal-progress.test.ts"))).toBe(true); // item 3
});
