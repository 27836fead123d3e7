// `npm run bench`: every benchmark, one after the other, then ONE table of the figures this run measured,
// each beside its reference from the same run (the peer it was raced against, or the issue's goal where
// the reference is a target). Each benchmark also writes its own test/bench/results/<name>.{md,json};
// the table goes to test/bench/results/bench.md. Not part of `npm test`.
//   npm run bench                    # everything; the install benchmark NEEDS ROOT AND TAKES THE SHARED LAB
//                                    # DOWN AND UP (4, 8 and 23 nodes): only when nobody else uses the lab
//   npm run bench -- --no-lab        # everything that runs on this machine alone (start-up, SSH, depot)
//   npm run bench -- startup registry  # only these (names as in BENCHES, prefixes work)
//   npm run bench -- --table         # no benchmark: the table of the latest results files
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const RESULTS = join(import.meta.dir, "results");
/** Benchmark file → the results file it writes; `lab`: needs the nspawn lab (skipped by --no-lab). */
const BENCHES: { file: string; result: string; lab?: boolean }[] = [
  { file: "startup.ts", result: "startup.json" },
  { file: "fanout.ts", result: "fanout.json" },
  { file: "fanout-upload.ts", result: "upload.json" },
  { file: "registry.ts", result: "registry.json" },
  { file: "install.ts", result: "install.json", lab: true },
];

const args = process.argv.slice(2);
const noLab = args.includes("--no-lab");
const tableOnly = args.includes("--table");
const only = args.filter((a) => !a.startsWith("--"));
const started = new Date();
const chosen = BENCHES.filter((b) => (!only.length || only.some((o) => b.file.startsWith(o))) && !(noLab && b.lab));

let failed = 0;
if (!tableOnly) {
  for (const b of chosen) {
    console.log(`\n### ${b.file}`);
    const p = Bun.spawn([process.execPath, join(import.meta.dir, b.file)], { stdout: "inherit", stderr: "inherit" });
    if ((await p.exited) !== 0) {
      failed++;
      console.log(`### ${b.file} FAILED`);
    }
  }
}

/** A results file written by this run (or, with --table, the latest one); undefined when not. */
function result<T>(file: string): T | undefined {
  const path = join(RESULTS, file);
  if (!existsSync(path)) return undefined;
  const json = JSON.parse(readFileSync(path, "utf8")) as T & { date?: string };
  if (!tableOnly && (!json.date || new Date(json.date) < started)) return undefined;
  return json;
}

type Row = [measure: string, value: string, reference: string, ratio: string];
const rows: Row[] = [];
const notRun = (measure: string, why: string) => rows.push([measure, why, "", ""]);
const x = (v: number) => `${v.toFixed(2)}x`;
const pct = (v: number) => `${Math.round(v * 100)}%`;
const skippedWhy = (file: string) => (noLab && BENCHES.find((b) => b.file === file)?.lab ? "not run (--no-lab)" : chosen.some((b) => b.file === file) ? "FAILED (see above)" : "not run (not selected)");

// The install on the lab: cold and re-run at 4 nodes, the scale table, failover.
interface InstallRun { ok: boolean; exit: number; wallSeconds: number; cpuSeconds: number | null }
interface Size { nodes: number; cold?: InstallRun; rerun?: InstallRun; skipped?: string; nodeRssMiB?: Record<string, number> }
interface InstallJson {
  goals: { coldSeconds: number; rerunSeconds: number; cpuPerNodeGrowth: number; failoverHaproxySeconds: number; failoverKeepalivedSeconds: number };
  sizes: Size[];
  failover: { event: string; seconds: number | null; failed: number; sent: number }[] | null;
  cpuPerNodeGrowth8to23: number | null;
}
const inst = result<InstallJson>("install.json");
if (!inst) {
  for (const m of ["cold install, 4 nodes", "re-run, nothing to do, 4 nodes", "scale 4 / 8 / 23 nodes", "failover"]) notRun(m, skippedWhy("install.ts"));
} else {
  const g = inst.goals;
  const s4 = inst.sizes.find((s) => s.nodes === 4);
  const secs = (r?: InstallRun) => (!r ? "-" : r.ok ? `${r.wallSeconds.toFixed(1)} s` : `FAILED (exit ${r.exit})`);
  rows.push(["cold install, 4 nodes (wall)", secs(s4?.cold), `goal ${g.coldSeconds} s`, s4?.cold?.ok ? x(s4.cold.wallSeconds / g.coldSeconds) : ""]);
  rows.push(["re-run, nothing to do, 4 nodes (wall)", secs(s4?.rerun), `goal ${g.rerunSeconds} s`, s4?.rerun?.ok ? x(s4.rerun.wallSeconds / g.rerunSeconds) : ""]);
  for (const s of inst.sizes) {
    if (s.skipped) {
      rows.push([`scale: ${s.nodes} nodes`, `skipped: ${s.skipped}`, "", ""]);
      continue;
    }
    const cpu = s.cold?.cpuSeconds;
    rows.push([
      `scale: ${s.nodes} nodes, cold (wall; installer CPU on master1, per node)`,
      `${secs(s.cold)}; ${cpu == null ? "-" : `${cpu.toFixed(1)} s CPU, ${(cpu / s.nodes).toFixed(2)} s/node`}`,
      s.nodes === 23 ? `8 nodes, same run; goal CPU/node ≤ ${g.cpuPerNodeGrowth}x` : "",
      s.nodes === 23 && inst.cpuPerNodeGrowth8to23 != null ? x(inst.cpuPerNodeGrowth8to23) : "",
    ]);
  }
  for (const f of inst.failover ?? []) {
    const goal = f.event.startsWith("haproxy stopped") ? g.failoverHaproxySeconds : f.event.startsWith("keepalived stopped") ? g.failoverKeepalivedSeconds : undefined;
    rows.push([`failover: ${f.event} (VIP moved; failed/sent)`, `${f.seconds === null ? "not recovered" : `${f.seconds.toFixed(2)} s`}; ${f.failed}/${f.sent}`, goal ? `goal ${goal.toFixed(1)} s` : "", goal && f.seconds !== null ? x(f.seconds / goal) : ""]);
  }
  if (!inst.failover) notRun("failover", "not run (install bench without failover, or the 4-node install failed)");
}

// Start-up of the compiled binary against `bun -e 0`.
const st = result<{ median: Record<string, { cpuMs: number }>; reference: string; goal: number; cpuRatios: Record<string, number> }>("startup.json");
if (!st) notRun("start-up (CPU)", skippedWhy("startup.ts"));
else
  for (const [cmd, ratio] of Object.entries(st.cpuRatios))
    rows.push([`start-up: ${cmd} (CPU)`, `${st.median[cmd]!.cpuMs.toFixed(1)} ms`, `${st.reference} ${st.median[st.reference]!.cpuMs.toFixed(1)} ms; goal ≤ ${st.goal}x`, x(ratio)]);

// SSH fan-out and upload against OpenSSH.
const fan = result<{ medianMs: Record<string, number> }>("fanout.json");
if (!fan) notRun("SSH fan-out, 16 targets", skippedWhy("fanout.ts"));
else {
  const ours = fan.medianMs["fan-out, cold (16 at once)"]!;
  const peer = fan.medianMs["OpenSSH ssh, xargs -P16"]!;
  rows.push(["SSH: `true` on 16 targets, cold, 16 at once", `${(ours / 1000).toFixed(2)} s`, `OpenSSH ssh via xargs -P16 ${(peer / 1000).toFixed(2)} s`, x(ours / peer)]);
}
const up = result<{ megabytes: number; medianMs: Record<string, number> }>("upload.json");
if (!up) notRun("SSH upload", skippedWhy("fanout-upload.ts"));
else {
  const key = Object.keys(up.medianMs).find((k) => k.startsWith("SshHost.upload"))!;
  const ours = up.medianMs[key]!;
  const peer = up.medianMs["OpenSSH scp"]!;
  rows.push([`SSH: upload ${up.megabytes} MB (sha256 checked, fsync)`, `${(ours / 1000).toFixed(2)} s`, `OpenSSH scp ${(peer / 1000).toFixed(2)} s`, x(ours / peer)]);
}

// The depot against docker-registry and nginx.
interface RegistryJson {
  blobBytes: number;
  results: { tool: string; clients: number; mbps: Record<string, number>; p99Ms?: Record<string, number>; depotVsRegistry: number; depotVsNginx: number }[];
  manifests?: { clients: number; rps: Record<string, number>; p99Ms: Record<string, number>; depotVsRegistry: number; depotVsNginx: number }[];
  /** The depot ran with its log file (answered requests at debug, budgeted): its lines against the requests it answered. */
  depotLog?: { lines: number; requests: number };
}
const reg = result<RegistryJson>("registry.json");
if (!reg) notRun("depot blob throughput", skippedWhy("registry.ts"));
else
  for (const r of reg.results)
    rows.push([
      `depot: ${(reg.blobBytes / 1048576).toFixed(0)} MiB blob over TLS, ${r.tool}, ${r.clients} client${r.clients === 1 ? "" : "s"}`,
      `${r.mbps.depot!.toFixed(0)} MB/s`,
      `docker-registry ${r.mbps["docker-registry"]!.toFixed(0)} MB/s, nginx ${r.mbps.nginx!.toFixed(0)} MB/s`,
      `${pct(r.depotVsRegistry)} / ${pct(r.depotVsNginx)}`,
    ]);
if (reg) {
  for (const r of reg.results.filter((r) => r.p99Ms))
    rows.push([`depot: blob p99 latency, wrk, ${r.clients} client${r.clients === 1 ? "" : "s"}`, `${r.p99Ms!.depot!.toFixed(1)} ms`, `docker-registry ${r.p99Ms!["docker-registry"]!.toFixed(1)} ms, nginx ${r.p99Ms!.nginx!.toFixed(1)} ms`, `${x(r.p99Ms!.depot! / r.p99Ms!["docker-registry"]!)} / ${x(r.p99Ms!.depot! / r.p99Ms!.nginx!)}`]);
  for (const m of reg.manifests ?? [])
    rows.push([`depot: manifest GETs, wrk, ${m.clients} client${m.clients === 1 ? "" : "s"}`, `${m.rps.depot!.toFixed(0)} req/s`, `docker-registry ${m.rps["docker-registry"]!.toFixed(0)} req/s, nginx (static file) ${m.rps.nginx!.toFixed(0)} req/s`, `${pct(m.depotVsRegistry)} / ${pct(m.depotVsNginx)}`]);
  if (reg.depotLog)
    rows.push(["depot: its log file during the runs above (access lines at debug, budgeted)", `${reg.depotLog.lines} lines`, `${reg.depotLog.requests} requests answered`, reg.depotLog.requests ? `${((reg.depotLog.lines / reg.depotLog.requests) * 100).toFixed(2)}%` : ""]);
}

const md = [
  "# Benchmarks: one run",
  "",
  `\`npm run bench${args.length ? ` -- ${args.join(" ")}` : ""}\` on ${started.toISOString().slice(0, 16).replace("T", " ")} UTC: every figure was measured in this run, beside its reference from the same run.`,
  "",
  "| measure | value | reference (same run) | value / reference |",
  "| --- | --- | --- | ---: |",
  ...rows.map((r) => `| ${r.join(" | ")} |`),
  "",
].join("\n");
mkdirSync(RESULTS, { recursive: true });
if (!tableOnly) writeFileSync(join(RESULTS, "bench.md"), md);
console.log(`\n${md}`);
process.exit(failed ? 1 : 0);
