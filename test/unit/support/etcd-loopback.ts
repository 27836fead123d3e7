// Real etcd members (Debian's etcd 3.4) on loopback addresses of their own (127.x.y.1-3, the production
// ports 2379/2380), each node a DirHost root holding the PKI the etcd-pki phase plans, each started with
// the very flags its rendered etcd.service carries. For tests of etcd membership and replace-node.
import { mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { DirHost } from "./dir-host.ts";
import { labCluster, labHost } from "./cluster-fixture.ts";
import type { ClusterConfig, HostSpec } from "../../../src/config/types.ts";
import { planEtcdPki } from "../../../src/pki/etcd-pki.ts";
import type { ShellCommand } from "../../../src/util/sh.ts";
import type { ExecOptions, ExecResult } from "../../../src/hosts/host.ts";
import { etcdHealthy } from "../../../src/cluster/etcd.ts";
import { etcdUnit } from "../../../src/cluster/etcd-service.ts";
import { etcdView } from "../../../src/cluster/etcd-members.ts";

/** A node's root; systemctl is not run (this machine's services are not the node's), only recorded. */
export class NodeRoot extends DirHost {
  readonly systemctl: string[] = [];
  /** A directory of the node searched first for commands (a test's stand-in for a program not under test). */
  binDir?: string;
  override async exec(command: ShellCommand | string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (String(command).startsWith("systemctl")) {
      this.systemctl.push(String(command));
      return { code: 0, stdout: "", stderr: "" };
    }
    return super.exec(this.binDir ? `PATH=${this.binDir}:"$PATH"; ${String(command)}` : command, opts);
  }
}

export class LoopbackEtcd {
  readonly root = mkdtempSync(join(tmpdir(), "etcd-loopback-"));
  readonly net = `127.${100 + Math.floor(Math.random() * 150)}.${1 + Math.floor(Math.random() * 250)}`;
  readonly config: ClusterConfig;
  readonly members: HostSpec[];
  readonly hosts: NodeRoot[];
  private readonly procs = new Map<number, ChildProcess>();

  constructor(extraHosts: (net: string) => HostSpec[] = () => []) {
    const base = labCluster(join(this.root, "state"));
    // 127.0.0.1 among each member's names: a connection between two loopback addresses comes from
    // 127.0.0.1, and etcd checks a peer's address against its certificate.
    const members = [1, 2, 3].map((i) => ({ ...labHost(`m${i}`, `${this.net}.${i}`, ["control-plane", "etcd"]), aliases: ["127.0.0.1"] }));
    this.config = { ...base, hosts: [...members, ...extraHosts(this.net)] };
    this.members = members;
    this.hosts = members.map((m) => new NodeRoot(join(this.root, m.name), m.name, m.address));
  }

  /** The etcd PKI of the plan on every member, etcdctl where the etcd phase installs it. */
  async prepare(): Promise<void> {
    const plan = await planEtcdPki(this.config);
    for (const f of plan.files) {
      const h = f.state ? new DirHost(join(this.root, "state-host")) : this.hosts[this.members.findIndex((m) => m.name === f.node)]!;
      await h.writeFile(f.path, f.content, { mode: f.mode });
    }
    for (const h of this.hosts) {
      mkdirSync(h.local("/usr/local/bin"), { recursive: true });
      symlinkSync(Bun.which("etcdctl") ?? "/usr/bin/etcdctl", h.local("/usr/local/bin/etcdctl"));
      mkdirSync(h.local("/var/lib/etcd"), { recursive: true, mode: 0o700 });
    }
  }

  /** etcd as its unit starts it, paths under the node's root; the 127.0.0.1 client and metrics listeners left out (three members share this machine). */
  async start(i: number, wholeCluster = true): Promise<void> {
    if (this.procs.has(i)) throw new Error(`${this.members[i]!.name}'s etcd is already running in this test`);
    const unit = await etcdUnit({ config: this.config }, this.hosts[i]!, this.members[i]!);
    const words: string[] = [];
    for (const line of unit.slice(unit.indexOf("ExecStart=")).split("\n")) {
      words.push(...line.replace(/\\$/, "").trim().split(/\s+/).filter(Boolean));
      if (!line.endsWith("\\")) break;
    }
    const args = words.slice(1).filter((a) => !a.startsWith("--listen-metrics-urls=")).map((a) => {
      if (a.startsWith("--listen-client-urls=")) return `--listen-client-urls=https://${this.members[i]!.address}:2379`;
      const [flag, value] = a.split(/=(.*)/s);
      return value?.startsWith("/") ? `${flag}=${this.hosts[i]!.local(value)}` : a;
    });
    const log = openSync(join(this.root, `${this.members[i]!.name}.log`), "a");
    this.procs.set(i, spawn("etcd", args, { stdio: ["ignore", log, log] }));
    const deadline = Date.now() + 60_000;
    while (!(await etcdHealthy(this.hosts[i]!, this.members[i]!, wholeCluster))) {
      if (Date.now() > deadline) throw new Error(`${this.members[i]!.name} did not become healthy; see ${this.root}/${this.members[i]!.name}.log`);
      await Bun.sleep(300);
    }
  }

  /** A power cut of member i's etcd. */
  kill(i: number): void {
    this.procs.get(i)?.kill("SIGKILL");
    this.procs.delete(i);
  }

  /** The member list with health, asked from member `from`. */
  async view(from = 0) {
    return (await etcdView(this.hosts[from]!, this.members.map((m) => `https://${m.address}:2379`)))!;
  }

  stop(): void {
    for (const i of [...this.procs.keys()]) this.kill(i);
    if (!process.env.KEEP_ETCD_TEST_DIR) rmSync(this.root, { recursive: true, force: true });
  }
}
