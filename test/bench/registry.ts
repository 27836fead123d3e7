// Benchmark (not a test): blob download throughput on loopback, same run, same bytes, for
//   depot           — this project's server, blob served by byte range out of the image tar
//   docker-registry — Debian's distribution 2.8 with filesystem storage, image pushed with skopeo
//   nginx           — the same bytes as a static file (the practical limit)
// at 1, 8 and 32 concurrent clients. A client is one curl process fetching the blob N times over
// one keep-alive connection. Writes test/bench/results/registry.{md,json}.
//   bun test/bench/registry.ts [--mib 32] [--rounds 3] [--quick]
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { writeOciArchive } from "../unit/support/oci-fixture.ts";

const args = process.argv.slice(2);
const numberFlag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 && Number(args[i + 1]) > 0 ? Number(args[i + 1]) : fallback;
};
const QUICK = args.includes("--quick");
const MIB = numberFlag("--mib", 32);
const ROUNDS = numberFlag("--rounds", QUICK ? 1 : 3);
const CONCURRENCY = [1, 8, 32];
/** Total bytes per measurement stay bounded: about 2 GiB (1 GiB with --quick) whatever the concurrency. */
const TOTAL_FETCHES = QUICK ? 32 : 64;
const RUN_LIMIT_MS = 120_000;
const PORTS = { depot: 5180, registry: 5181, nginx: 5182 };
const ROOT = join(import.meta.dir, "..", "..");

const work = mkdtempSync(join(tmpdir(), "bench-registry-"));
const children: Subprocess[] = [];

function start(cmd: string[], name: string): Subprocess {
  const p = Bun.spawn(cmd, { stdout: Bun.file(join(work, `${name}.out`)), stderr: Bun.file(join(work, `${name}.err`)) });
  children.push(p);
  return p;
}

async function run(cmd: string[]): Promise<string> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (${code}): ${err}`);
  return out;
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(url).then((r) => r.status < 500, () => false);
    if (ok) return;
    await Bun.sleep(50);
  }
  throw new Error(`${url} did not come up (see ${work})`);
}

/** utime + stime of the processes, in clock ticks (100 per second on Linux). */
function cpuTicks(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process is gone
    }
  }
  return ticks;
}

/** A process and its direct children (nginx's workers). */
function withChildren(pid: number): number[] {
  const kids = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [pid, ...kids];
}

interface Sample {
  mbps: number;
  bytes: number;
  cpuTicks: number;
}

/** `clients` curl processes, each fetching `url` `perClient` times: MB/s over the wall time, and the server's CPU. */
async function measure(url: string, serverPids: number[], clients: number, perClient: number, size: number): Promise<Sample> {
  const cpuBefore = cpuTicks(serverPids);
  const started = performance.now();
  const procs = Array.from({ length: clients }, () =>
    Bun.spawn(["curl", "-s", "--fail", "-w", "%{size_download}\n", ...Array.from({ length: perClient }, () => ["-o", "/dev/null", url]).flat()], {
      stdout: "pipe",
    }),
  );
  const timer = setTimeout(() => procs.forEach((p) => p.kill()), RUN_LIMIT_MS);
  const outs = await Promise.all(procs.map(async (p) => [await new Response(p.stdout).text(), await p.exited] as const));
  clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuTicks(serverPids) - cpuBefore;
  let bytes = 0;
  for (const [out, code] of outs) {
    if (code !== 0) throw new Error(`a client failed against ${url} (curl exit ${code})`);
    for (const line of out.trim().split("\n")) {
      if (Number(line) !== size) throw new Error(`short download from ${url}: ${line} of ${size} bytes`);
      bytes += Number(line);
    }
  }
  return { mbps: bytes / seconds / 1e6, bytes, cpuTicks: cpu };
}

type ServerName = "depot" | "docker-registry" | "nginx";
interface Row {
  clients: number;
  /** best MB/s of the rounds */
  mbps: Record<ServerName, number>;
  /** server CPU seconds per GB served, over all rounds: independent of what else runs on the machine */
  cpuPerGB: Record<ServerName, number>;
}

async function main() {
  // One image with a large incompressible layer; the three servers get exactly these bytes.
  const bundle = join(work, "bundle");
  mkdirSync(join(bundle, "images"), { recursive: true });
  const [img] = await writeOciArchive(join(bundle, "images", "bench.tar"), [
    { ref: "registry.k8s.io/bench:v1", platforms: ["linux/amd64"], bigLayerBytes: MIB * 1024 * 1024 },
  ]);
  const blob = img!.blobs.reduce((a, b) => (b.size > a.size ? b : a));

  // depot, in its own process like in production.
  const depotScript = join(work, "depot.ts");
  writeFileSync(
    depotScript,
    `import { startDepotServer } from ${JSON.stringify(join(ROOT, "src/depot/server.ts"))};
const quiet = { info() {}, warn: (m: string) => console.error(m), debug() {} };
await startDepotServer({ bundleDir: ${JSON.stringify(bundle)}, listen: { address: "127.0.0.1", port: ${PORTS.depot} }, log: quiet });`,
  );
  const depotProc = start([process.execPath, depotScript], "depot");
  await waitFor(`http://127.0.0.1:${PORTS.depot}/v2/`);

  // docker-registry with filesystem storage; the image pushed into it by skopeo.
  writeFileSync(
    join(work, "registry.yml"),
    `version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: ${join(work, "registry-data")} }, delete: { enabled: false } }
http: { addr: 127.0.0.1:${PORTS.registry} }
`,
  );
  const registryProc = start(["docker-registry", "serve", join(work, "registry.yml")], "registry");
  await waitFor(`http://127.0.0.1:${PORTS.registry}/v2/`);
  await run(["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false", `docker://127.0.0.1:${PORTS.depot}/bench:v1`, `docker://127.0.0.1:${PORTS.registry}/bench:v1`]);

  // nginx serving the same bytes as a static file.
  const www = join(work, "www");
  mkdirSync(www, { recursive: true });
  chmodSync(work, 0o755); // nginx workers run as www-data and must reach the file
  await Bun.write(join(www, "blob"), await fetch(`http://127.0.0.1:${PORTS.depot}/v2/bench/blobs/${blob.digest}`).then((r) => r.arrayBuffer()));
  writeFileSync(
    join(work, "nginx.conf"),
    `worker_processes auto;
pid ${work}/nginx.pid;
error_log ${work}/nginx.error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path ${work}/nginx-tmp;
  proxy_temp_path ${work}/nginx-tmp;
  fastcgi_temp_path ${work}/nginx-tmp;
  uwsgi_temp_path ${work}/nginx-tmp;
  scgi_temp_path ${work}/nginx-tmp;
  server { listen 127.0.0.1:${PORTS.nginx}; root ${www}; }
}
`,
  );
  const nginxProc = start(["nginx", "-c", join(work, "nginx.conf"), "-p", work, "-g", "daemon off;"], "nginx");
  await waitFor(`http://127.0.0.1:${PORTS.nginx}/blob`);

  const servers: Record<ServerName, { url: string; pids: number[] }> = {
    depot: { url: `http://127.0.0.1:${PORTS.depot}/v2/bench/blobs/${blob.digest}`, pids: [depotProc.pid] },
    "docker-registry": { url: `http://127.0.0.1:${PORTS.registry}/v2/bench/blobs/${blob.digest}`, pids: [registryProc.pid] },
    nginx: { url: `http://127.0.0.1:${PORTS.nginx}/blob`, pids: withChildren(nginxProc.pid) },
  };
  const names = Object.keys(servers) as ServerName[];
  // Warm the page cache and every server once.
  for (const s of Object.values(servers)) await measure(s.url, s.pids, 1, 2, blob.size);

  const rows: Row[] = [];
  for (const clients of CONCURRENCY) {
    const perClient = Math.max(2, Math.ceil(TOTAL_FETCHES / clients));
    const samples = Object.fromEntries(names.map((n) => [n, [] as Sample[]])) as Record<ServerName, Sample[]>;
    // Interleave the servers (rotating who goes first) and keep the best round, so a noisy moment favours none.
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + round) % names.length]!;
        samples[name].push(await measure(servers[name].url, servers[name].pids, clients, perClient, blob.size));
      }
    }
    const row: Row = {
      clients,
      mbps: Object.fromEntries(names.map((n) => [n, Math.max(...samples[n].map((x) => x.mbps))])) as Row["mbps"],
      cpuPerGB: Object.fromEntries(
        names.map((n) => [n, samples[n].reduce((a, x) => a + x.cpuTicks, 0) / 100 / (samples[n].reduce((a, x) => a + x.bytes, 0) / 1e9)]),
      ) as Row["cpuPerGB"],
    };
    console.log(`${clients} clients: ${names.map((n) => `${n} ${row.mbps[n].toFixed(0)} MB/s (${row.cpuPerGB[n].toFixed(2)} CPU s/GB)`).join(", ")}`);
    rows.push(row);
  }
  report(rows, blob.size);
}

function report(rows: Row[], size: number) {
  const dir = join(ROOT, "test", "bench", "results");
  mkdirSync(dir, { recursive: true });
  const versions = {
    bun: Bun.version,
    "docker-registry": "distribution 2.8 (Debian docker-registry)",
    nginx: "Debian nginx, worker_processes auto, sendfile on",
  };
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? "?", loadavg: loadavg() };
  const results = rows.map((r) => ({ ...r, depotVsRegistry: r.mbps.depot / r.mbps["docker-registry"], depotVsNginx: r.mbps.depot / r.mbps.nginx }));
  writeFileSync(join(dir, "registry.json"), JSON.stringify({ date: new Date().toISOString(), blobBytes: size, rounds: ROUNDS, machine, versions, results }, null, 2) + "\n");
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const md = [
    "# Registry blob throughput (loopback)",
    "",
    `Generated by \`bun test/bench/registry.ts\` on ${new Date().toISOString().slice(0, 10)}: one ${(size / 1048576).toFixed(0)} MiB blob,`,
    `clients are curl processes each fetching it repeatedly over keep-alive; best of ${ROUNDS} interleaved rounds.`,
    `Machine: ${machine.cpus} CPUs (${machine.cpu}); the clients share these CPUs with the server; load average at the end ${machine.loadavg.map((l) => l.toFixed(1)).join(" ")}.`,
    "",
    "| clients | depot MB/s | docker-registry MB/s | nginx MB/s | depot / docker-registry | depot / nginx |",
    "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ...results.map((r) => `| ${r.clients} | ${r.mbps.depot.toFixed(0)} | ${r.mbps["docker-registry"].toFixed(0)} | ${r.mbps.nginx.toFixed(0)} | ${pct(r.depotVsRegistry)} | ${pct(r.depotVsNginx)} |`),
    "",
    "Server CPU seconds per GB served (all rounds; lower is better, and unlike MB/s it does not depend on what else the machine runs):",
    "",
    "| clients | depot | docker-registry | nginx |",
    "| ---: | ---: | ---: | ---: |",
    ...results.map((r) => `| ${r.clients} | ${r.cpuPerGB.depot.toFixed(2)} | ${r.cpuPerGB["docker-registry"].toFixed(2)} | ${r.cpuPerGB.nginx.toFixed(2)} |`),
    "",
    "Target: depot >= docker-registry at every concurrency, and >= 80% of nginx.",
    "",
  ].join("\n");
  writeFileSync(join(dir, "registry.md"), md);
  console.log(md);
}

try {
  await main();
} finally {
  for (const p of children) p.kill();
  await Promise.all(children.map((p) => p.exited));
  rmSync(work, { recursive: true, force: true });
}
