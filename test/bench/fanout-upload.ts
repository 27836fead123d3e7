// Benchmark (not a test): pushing a 100 MB file to a node over SSH on loopback, the way the
// binary copies itself to every node. Compares SshHost.upload (streams into `cat` over an exec
// channel, then sha256 check, fsync, rename) and the bare transports it could use (ssh2 SFTP
// fastPut at several chunk sizes, the bare exec stream) against OpenSSH's own scp as the real
// peer. Median of several interleaved rounds.
// Writes test/bench/results/upload.{md,json}.
//   node_modules/.bin/bun test/bench/fanout-upload.ts [--rounds 3]
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Client, type SFTPWrapper } from "ssh2";
import { SshHost } from "../../src/hosts/ssh.ts";
import { startSshd, sshdAvailable, createThrowawayUser } from "../unit/support/sshd.ts";

const args = process.argv.slice(2);
const ROUNDS = Number(args[args.indexOf("--rounds") + 1] ?? 3) || 3;
const MB = 100;
const PORT = 2281;
const RESULTS = join(import.meta.dir, "results");

if (!sshdAvailable()) {
  console.error("needs root and openssh-server (apt-get install -y openssh-server openssh-client)");
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "bench-upload-"));
const src = join(work, "payload.bin");
Bun.spawnSync(["dd", "if=/dev/urandom", `of=${src}`, "bs=1M", `count=${MB}`, "status=none"]);
const sshd = await startSshd({ port: PORT });
const user = createThrowawayUser({ uid0: true }); // /bin/sh login: no ~/.bashrc cost per session
const key = readFileSync(sshd.clientKey);
const dst = (name: string) => join(work, `dst-${name}`);

const host = await SshHost.connect({
  name: "bench",
  address: "127.0.0.1",
  port: PORT,
  user: user.name,
  credentials: { keys: [{ path: sshd.clientKey, data: key }] },
  hostKeyPolicy: "off",
  knownHostsFile: "/dev/null",
  connectTimeoutMs: 60_000,
});
const client = await new Promise<Client>((resolve, reject) => {
  const c = new Client();
  c.on("ready", () => resolve(c)).on("error", reject).connect({ host: "127.0.0.1", port: PORT, username: user.name, privateKey: key });
});
const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((e, s) => (e ? reject(e) : resolve(s))));

const fastPut = (chunkSize: number) => () =>
  new Promise<void>((resolve, reject) => sftp.fastPut(src, dst(`sftp-${chunkSize}`), { concurrency: 64, chunkSize }, (e) => (e ? reject(e) : resolve())));

const scenarios: Record<string, () => Promise<void>> = {
  "SshHost.upload (stream into exec + sha256 check + fsync + rename)": () => host.upload(src, dst("host"), { mode: 0o755 }),
  "ssh2 fastPut, 32 KiB x 64 in flight": fastPut(32 * 1024),
  "ssh2 fastPut, 64 KiB x 64 in flight": fastPut(64 * 1024),
  "ssh2 fastPut, 128 KiB x 64 in flight": fastPut(128 * 1024),
  "ssh2 exec channel, stream into cat": () =>
    new Promise<void>((resolve, reject) =>
      client.exec(`cat > ${dst("exec")}`, (e, ch) => {
        if (e) return reject(e);
        ch.on("close", () => resolve()).resume();
        createReadStream(src).pipe(ch);
      }),
    ),
  "OpenSSH scp": async () => {
    const p = Bun.spawn(
      ["scp", "-q", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-i", sshd.clientKey, "-P", `${PORT}`, src, `${user.name}@127.0.0.1:${dst("scp")}`],
      { stderr: "pipe" },
    );
    if ((await p.exited) !== 0) throw new Error(`scp failed: ${await new Response(p.stderr).text()}`);
  },
};

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(scenarios).map((k) => [k, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of Object.entries(scenarios)) {
      const started = performance.now();
      await fn();
      samples[name]!.push(performance.now() - started);
    }
    console.error(`round ${round + 1}/${ROUNDS} done`);
  }
  // Every transport delivered the same bytes.
  const sums = new Set(Bun.spawnSync(["sh", "-c", `sha256sum ${work}/payload.bin ${work}/dst-* | cut -d' ' -f1`]).stdout.toString().trim().split("\n"));
  if (sums.size !== 1) throw new Error("a transport delivered different bytes");
} finally {
  sftp.end();
  client.end();
  await host.close();
  user.remove();
  await sshd.stop();
  rmSync(work, { recursive: true, force: true });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
const scp = med["OpenSSH scp"]!;
const cpu = cpus();
const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const json = { date: new Date().toISOString(), megabytes: MB, rounds: ROUNDS, cpus: cpu.length, cpuModel: cpu[0]?.model, loadavg: load, samplesMs: samples, medianMs: med };
mkdirSync(RESULTS, { recursive: true });
writeFileSync(join(RESULTS, "upload.json"), JSON.stringify(json, null, 2) + "\n");
const md = [
  `# Upload of a ${MB} MB file over SSH (loopback)`,
  "",
  `Generated by \`node_modules/.bin/bun test/bench/fanout-upload.ts\` on ${json.date.slice(0, 10)}: median of ${ROUNDS} interleaved rounds.`,
  `Machine: ${cpu.length} CPUs (${cpu[0]?.model ?? "?"}), load average at the end ${load}; client and server share these CPUs.`,
  "SshHost.upload does more than the bare transports: it also hashes the file on both sides and fsyncs it.",
  "",
  "| transport | median ms | MB/s | time / OpenSSH scp | runs (ms) |",
  "| --- | ---: | ---: | ---: | --- |",
  ...Object.keys(scenarios).map((k) => `| ${k} | ${Math.round(med[k]!)} | ${Math.round((MB * 1000) / med[k]!)} | ${(med[k]! / scp).toFixed(2)} | ${samples[k]!.map(Math.round).join(", ")} |`),
  "",
].join("\n");
writeFileSync(join(RESULTS, "upload.md"), md);
console.log(md);
