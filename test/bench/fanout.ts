// Benchmark (not a test): a trivial command (`true`) on 16 SSH targets on loopback, as the
// installer does it (16 at once over SshHost, as the runner fans a phase out) against the same one by one, and against OpenSSH's
// own client run one by one and 16 at once (xargs -P16) as the real peer. One sshd listens on
// 127.0.0.2..17. Cold = connect + run + disconnect; warm = run over connections already open
// (what every phase after the first pays). Median of several interleaved rounds.
// Writes test/bench/results/fanout.{md,json}.
//   node_modules/.bin/bun test/bench/fanout.ts [--rounds 5]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { SshHost, type SshTarget } from "../../src/hosts/ssh.ts";
import { createLimiter } from "../../src/hosts/limit.ts";
import { startSshd, sshdAvailable, createThrowawayUser } from "../unit/support/sshd.ts";
import { interleavedRounds, medians, ratioTable } from "./support.ts";
import { shellScript } from "../../src/util/sh.ts";

const args = process.argv.slice(2);
const ROUNDS = Number(args[args.indexOf("--rounds") + 1] ?? 5) || 5;
const PORT = 2280;
const TARGETS = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 2}`);
const RESULTS = join(import.meta.dir, "results");

if (!sshdAvailable()) {
  console.error("needs root and openssh-server (apt-get install -y openssh-server openssh-client)");
  process.exit(1);
}

const sshd = await startSshd({ port: PORT, addresses: TARGETS });
// A uid-0 user whose shell is /bin/sh: measures SSH itself, not the test machine's root ~/.bashrc
// (which both clients would pay equally, and which real nodes do not have).
const user = createThrowawayUser({ uid0: true });
const key = { path: sshd.clientKey, data: readFileSync(sshd.clientKey) };

const target = (address: string): SshTarget => ({
  name: address,
  address,
  port: PORT,
  user: user.name,
  credentials: { keys: [key] },
  hostKeyPolicy: "off",
  knownHostsFile: "/dev/null",
  connectTimeoutMs: 60_000,
});

const opensshArgs = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-i", sshd.clientKey, "-p", `${PORT}`];

async function coldOne(address: string): Promise<void> {
  const h = await SshHost.connect(target(address));
  await h.exec(shellScript("true"));
  await h.close();
}

async function run(cmd: string[], stdin?: string): Promise<void> {
  const p = Bun.spawn(cmd, { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (${code}): ${err}`);
}

/** Every item, at most 16 at once: the runner's fan-out of a parallel phase. */
const sixteenAtOnce = <T>(items: readonly T[], work: (item: T) => Promise<unknown>) => {
  const limited = createLimiter(16);
  return Promise.all(items.map((item) => limited(() => work(item))));
};

const scenarios: Record<string, () => Promise<void>> = {
  "fan-out, cold (16 at once)": async () => {
    await sixteenAtOnce(TARGETS, coldOne);
  },
  "one by one, cold": async () => {
    for (const a of TARGETS) await coldOne(a);
  },
  "OpenSSH ssh, one by one": async () => {
    for (const a of TARGETS) await run(["ssh", ...opensshArgs, `${user.name}@${a}`, "true"]);
  },
  "OpenSSH ssh, xargs -P16": async () => {
    await run(["xargs", "-P16", "-I{}", "ssh", ...opensshArgs, `${user.name}@{}`, "true"], TARGETS.join("\n") + "\n");
  },
};

// Warm: connections opened once, then only the command is timed.
const warmHosts = await Promise.all(TARGETS.map((a) => SshHost.connect(target(a))));
const warmScenarios: Record<string, () => Promise<void>> = {
  "fan-out, warm (open connections)": async () => {
    await sixteenAtOnce(warmHosts, (h) => h.exec(shellScript("true")));
  },
  "one by one, warm": async () => {
    for (const h of warmHosts) await h.exec(shellScript("true"));
  },
};
const all = { ...scenarios, ...warmScenarios };

let samples: Record<string, number[]> = {};
try {
  samples = await interleavedRounds(all, ROUNDS);
} finally {
  await Promise.all(warmHosts.map((h) => h.close()));
  user.remove();
  await sshd.stop();
}

const med = medians(samples);
const ratio = (a: string, b: string) => med[a]! / med[b]!;
const ratios = {
  "one by one cold / fan-out cold (speed-up of fan-out)": ratio("one by one, cold", "fan-out, cold (16 at once)"),
  "fan-out cold / OpenSSH xargs -P16": ratio("fan-out, cold (16 at once)", "OpenSSH ssh, xargs -P16"),
  "one by one cold / OpenSSH one by one": ratio("one by one, cold", "OpenSSH ssh, one by one"),
  "one by one warm / fan-out warm (speed-up of fan-out)": ratio("one by one, warm", "fan-out, warm (open connections)"),
};

const cpu = cpus();
const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const json = { date: new Date().toISOString(), targets: TARGETS.length, rounds: ROUNDS, cpus: cpu.length, cpuModel: cpu[0]?.model, loadavg: load, samplesMs: samples, medianMs: med, ratios };
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, "fanout.json"), JSON.stringify(json, null, 2) + "\n");

const fmt = (ms: number) => `${Math.round(ms)}`;
const md = [
  "# Fan-out of a trivial command to 16 SSH targets (loopback)",
  "",
  `Generated by \`node_modules/.bin/bun test/bench/fanout.ts\` on ${json.date.slice(0, 10)}: \`true\` on 16 targets`,
  `(one OpenSSH sshd listening on 127.0.0.2-17), median of ${ROUNDS} interleaved rounds.`,
  `Machine: ${cpu.length} CPUs (${cpu[0]?.model ?? "?"}), load average at the end ${load}; client and server share these CPUs.`,
  "Cold = connect, authenticate (ed25519 key), run, disconnect; warm = run over connections already open.",
  "The login is a uid-0 user with /bin/sh as shell (root's ~/.bashrc on the test machine runs pyenv, seconds per session);",
  "as it is not named root, SshHost's cold path also runs its one privilege check (`id -u`) per connection.",
  "",
  "| scenario | median ms | runs (ms) |",
  "| --- | ---: | --- |",
  ...Object.keys(all).map((k) => `| ${k} | ${fmt(med[k]!)} | ${samples[k]!.map(fmt).join(", ")} |`),
  "",
  ...ratioTable(ratios),
  "",
].join("\n");
writeFileSync(join(RESULTS, "fanout.md"), md);
console.log(md);
