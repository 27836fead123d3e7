// Helpers for test suites that run against the nspawn lab (test/lab/lab).
// They need root and a lab brought up by `labUp()` (or `test/lab/lab up`).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const LAB_SCRIPT = join(import.meta.dir, "lab");
export const LAB_STATE = process.env.K8S_LAB_STATE ?? "/var/lib/k8s-lab";

export interface LabNode {
  name: string;
  address: string;
  roles: string[];
  machine: string;
}

export interface Lab {
  nodes: LabNode[];
  vip: string;
  subnet: string;
  bridge: string;
  host_address: string;
  /** Host path of the lab's private key (root SSH into every node). */
  ssh_key: string;
  /** ssh_config naming every node: `ssh -F <ssh_config> master1`. */
  ssh_config: string;
  /** cluster.yaml for the installer, written for this lab. */
  cluster_yaml: string;
  state_dir: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class LabError extends Error {}

/** The running lab as recorded in lab.json; throws when the lab is not up. */
export function readLab(): Lab {
  const file = join(LAB_STATE, "lab.json");
  if (!existsSync(file)) throw new LabError(`the lab is not up (no ${file}); run: ${LAB_SCRIPT} up`);
  return JSON.parse(readFileSync(file, "utf8")) as Lab;
}

export function labNode(lab: Lab, name: string): LabNode {
  const node = lab.nodes.find((n) => n.name === name || n.address === name);
  if (!node) throw new LabError(`no node '${name}' in the lab (nodes: ${lab.nodes.map((n) => n.name).join(", ")})`);
  return node;
}

export interface RunOptions {
  timeoutMs?: number;
  stdin?: string;
  cwd?: string;
}

/** Run a command on the host and collect its output; kills it after timeoutMs. */
export async function run(argv: string[], opts: RunOptions | number = {}): Promise<ExecResult> {
  const { timeoutMs = 120_000, stdin, cwd } = typeof opts === "number" ? { timeoutMs: opts } : opts;
  const proc = Bun.spawn(argv, {
    cwd,
    stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    if (proc.signalCode === "SIGKILL") {
      return { code: 124, stdout, stderr: `${stderr}\n(killed after ${timeoutMs} ms: ${argv.join(" ")})` };
    }
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

export interface ExecOptions {
  /** Throw when the command exits non-zero (default false). */
  check?: boolean;
  timeoutMs?: number;
  /** Fed to the command's standard input. */
  stdin?: string;
}

/** ssh argv for a node (by name or address) with the lab's key and pinned host keys. */
export function sshArgv(node: string, lab = readLab()): string[] {
  return ["ssh", "-F", lab.ssh_config, "-o", "ConnectTimeout=5", labNode(lab, node).name];
}

/** Run a shell command line on a node as root over SSH. */
export async function labExec(node: string, cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const res = await run([...sshArgv(node), "--", cmd], { timeoutMs: opts.timeoutMs, stdin: opts.stdin });
  if (opts.check && res.code !== 0) {
    throw new LabError(`on ${node}: '${cmd}' exited ${res.code}\nstdout: ${res.stdout}\nstderr: ${res.stderr}`);
  }
  return res;
}

async function runLabScript(args: string[], timeoutMs: number): Promise<ExecResult> {
  const res = await run([LAB_SCRIPT, ...args], { timeoutMs });
  if (res.code !== 0) throw new LabError(`lab ${args.join(" ")} exited ${res.code}\n${res.stderr}`);
  return res;
}

/** Bring the lab up (no-op when it already runs with that many nodes) and return it. */
export async function labUp(opts: { nodes?: number; timeoutMs?: number } = {}): Promise<Lab> {
  await runLabScript(["up", "--nodes", String(opts.nodes ?? 4)], opts.timeoutMs ?? 600_000);
  return readLab();
}

export async function labDown(opts: { purge?: boolean; timeoutMs?: number } = {}): Promise<void> {
  await runLabScript(opts.purge ? ["down", "--purge"] : ["down"], opts.timeoutMs ?? 120_000);
}

/** Poll until `probe` returns a truthy value; throws naming `what` after timeoutMs. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new LabError(`timed out after ${opts.timeoutMs ?? 30_000} ms waiting for ${what}`);
    await Bun.sleep(opts.intervalMs ?? 250);
  }
}

// apt in a node has no sources (air gap) but installs local .debs and purges fine;
// it waits for the dpkg lock where bare dpkg would fail (timers, other suites).
const APT_IN_NODE = "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300";

/**
 * Install Debian packages into nodes the way a test may (never the base): the
 * host's apt plans against the first node's dpkg status and downloads exactly
 * the missing .debs, which `dpkg -i` installs on every node. Returns the names
 * installed, to hand to `labPurgeDebs` afterwards.
 */
export async function labInstallDebs(nodes: string[], packages: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "lab-debs-"));
  try {
    const status = await labExec(nodes[0]!, "cat /var/lib/dpkg/status", { check: true });
    writeFileSync(join(dir, "status"), status.stdout);
    const plan = await run(["apt-get", "-s", "-o", `Dir::State::status=${join(dir, "status")}`, "--no-install-recommends", "install", ...packages]);
    if (plan.code !== 0) throw new LabError(`apt-get cannot plan ${packages.join(" ")} for ${nodes[0]}:\n${plan.stdout}${plan.stderr}`);
    // "Inst pkg [installed-version] (new-version ...)" is an upgrade of a base package:
    // purging it later would break the node, so refuse rather than drift the base.
    const upgrades = [...plan.stdout.matchAll(/^Inst (\S+) \[/gm)].map((m) => m[1]!);
    if (upgrades.length) {
      throw new LabError(
        `installing ${packages.join(" ")} would upgrade base packages (${upgrades.join(" ")}): the host's apt lists and the lab's base differ; ` +
          "run 'apt-get update' on the host and 'test/lab/lab down --purge' to rebuild the base",
      );
    }
    const names = [...plan.stdout.matchAll(/^Inst (\S+)/gm)].map((m) => m[1]!);
    if (names.length === 0) return [];
    const debs = join(dir, "debs");
    mkdirSync(debs);
    const dl = await run(["apt-get", "-o", "APT::Sandbox::User=root", "download", ...names], { cwd: debs, timeoutMs: 600_000 });
    if (dl.code !== 0) throw new LabError(`apt-get download ${names.join(" ")} failed:\n${dl.stderr}`);
    const files = readdirSync(debs).filter((f) => f.endsWith(".deb"));
    await Promise.all(
      nodes.map(async (node) => {
        await labExec(node, "rm -rf /tmp/lab-debs && mkdir /tmp/lab-debs", { check: true });
        const cp = await run(["scp", "-F", readLab().ssh_config, "-q", ...files.map((f) => join(debs, f)), `${labNode(readLab(), node).name}:/tmp/lab-debs/`], { timeoutMs: 300_000 });
        if (cp.code !== 0) throw new LabError(`copying .debs to ${node} failed: ${cp.stderr}`);
        await labExec(node, `${APT_IN_NODE} install --no-install-recommends /tmp/lab-debs/*.deb && rm -rf /tmp/lab-debs`, { check: true, timeoutMs: 600_000 });
      }),
    );
    return names;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Purge packages from nodes, leaving their dpkg database as before the install. */
export async function labPurgeDebs(nodes: string[], names: string[]): Promise<void> {
  if (names.length === 0) return;
  await Promise.all(nodes.map((node) => labExec(node, `${APT_IN_NODE} purge ${names.join(" ")}`, { check: true, timeoutMs: 300_000 })));
}
