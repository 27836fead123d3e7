// Benchmark (not a test): blob download throughput over HTTPS on loopback, same run, same bytes,
// same certificate and key (the depot's serving certificate from the real depot PKI), for
//   depot           — this project's server, blob served by byte range out of the image tar
//   docker-registry — Debian's distribution 2.8 with filesystem storage, image pushed with skopeo
//   nginx           — the same bytes as a static file (the practical limit)
// at 1, 8 and 32 concurrent clients, with two load generators:
//   curl — a client is one curl process fetching the blob N times over one keep-alive connection,
//          verifying the server against the depot CA (--cacert), as a node does;
//   wrk  — Debian's wrk, N keep-alive connections for a fixed time (wrk does not verify certificates;
//          the curl rounds prove every server presents the CA's certificate).
// Rounds are interleaved (rotating who goes first) so a busy moment hurts every server alike.
// Writes test/bench/results/registry.{md,json}.
//   bun test/bench/registry.ts [--mib 64] [--rounds 3] [--quick] [--no-wrk]
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { writeOciArchive } from "../unit/support/oci-fixture.ts";
import { depotTls } from "../unit/support/depot-tls.ts";

const args = process.argv.slice(2);
const numberFlag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 && Number(args[i + 1]) > 0 ? Number(args[i + 1]) : fallback;
};
const QUICK = args.includes("--quick");
/** 64 MiB: the blob size of issue 20's independent load run (a large image layer). */
const MIB = numberFlag("--mib", 64);
const ROUNDS = numberFlag("--rounds", QUICK ? 1 : 3);
const CONCURRENCY = [1, 8, 32];
/** Total bytes per curl measurement stay bounded: 32 blobs (16 with --quick) whatever the concurrency. */
const TOTAL_FETCHES = QUICK ? 16 : 32;
const RUN_LIMIT_MS = 60_000;
/** Seconds of one wrk run: short, so that the whole bench stays around three minutes. */
const WRK_SECONDS = QUICK ? 1 : 3;
const WRK = !args.includes("--no-wrk") && Bun.which("wrk") !== null;
const PORTS = { depot: 5180, registry: 5181, nginx: 5182 };
const ROOT = join(import.meta.dir, "..", "..");

const work = mkdtempSync(join(tmpdir(), "bench-registry-"));
const children: Subprocess[] = [];
/** The depot CA (PEM file): what every client verifies the three servers against. */
const CA = join(work, "ca.crt");
/**
 * The clients (curl and wrk, both OpenSSL) offer only TLS_AES_128_GCM_SHA256, through an OpenSSL config
 * file: otherwise each server picks its own suite (Go's docker-registry AES-128-GCM, the depot and nginx
 * AES-256-GCM for OpenSSL's default order) and the comparison would partly be one of ciphers. AES-128-GCM
 * is also the suite Go clients such as containerd offer first.
 */
const CLIENT_OPENSSL_CONF = join(work, "client-openssl.cnf");
const CLIENT_ENV = { ...process.env, OPENSSL_CONF: CLIENT_OPENSSL_CONF };
const CLIENT_SUITE = "TLS_AES_128_GCM_SHA256";
writeFileSync(
  CLIENT_OPENSSL_CONF,
  `openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Ciphersuites = ${CLIENT_SUITE}
`,
);

function start(cmd: string[], name: string): Subprocess {
  const p = Bun.spawn(cmd, { stdout: Bun.file(join(work, `${name}.out`)), stderr: Bun.file(join(work, `${name}.err`)) });
  children.push(p);
  return p;
}

async function run(cmd: string[], env?: Record<string, string | undefined>): Promise<string> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", env });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (${code}): ${err}`);
  return out;
}

/** Waits until `url` answers over verified TLS; returns the negotiated protocol and cipher (curl's -v line). `name`: the server's log files in the work directory. */
async function waitFor(url: string, name: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const p = Bun.spawn(["curl", "-sv", "--cacert", CA, "-o", "/dev/null", "-w", "%{http_code}", url], { stdout: "pipe", stderr: "pipe", env: CLIENT_ENV });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (code === 0 && Number(out) < 500) return /SSL connection using (.*)/.exec(err)?.[1]?.trim() ?? "?";
    await Bun.sleep(50);
  }
  // The work directory goes away on exit: say what the server said (e.g. its port already in use).
  const said = ["out", "err"].map((ext) => readFileSync(join(work, `${name}.${ext}`), "utf8").trim()).filter(Boolean).join("\n");
  throw new Error(`${url} did not come up over TLS verified by the depot CA${said ? `; ${name} said:\n${said}` : ""}`);
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

/** Peak resident memory (VmHWM) of the processes, in MiB: a server that buffered whole blobs would show it. */
function peakRssMiB(pids: number[]): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      kib += Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // the process is gone
    }
  }
  return kib / 1024;
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
  /** wrk only: 99th percentile latency of a request (--latency), and requests per second. */
  p99Ms?: number;
  rps?: number;
  /** requests answered */
  requests: number;
}

/** `clients` curl processes, each fetching `url` `perClient` times: MB/s over the wall time, and the server's CPU. */
async function measureCurl(url: string, serverPids: number[], clients: number, perClient: number, size: number): Promise<Sample> {
  const cpuBefore = cpuTicks(serverPids);
  const started = performance.now();
  const procs = Array.from({ length: clients }, () =>
    Bun.spawn(
      ["curl", "-s", "--fail", "--cacert", CA, "-w", "%{size_download}\n", ...Array.from({ length: perClient }, () => ["-o", "/dev/null", url]).flat()],
      { stdout: "pipe", env: CLIENT_ENV },
    ),
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
  return { mbps: bytes / seconds / 1e6, bytes, cpuTicks: cpu, requests: clients * perClient };
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** wrk with `clients` keep-alive connections for WRK_SECONDS: MB/s of every byte read (wrk's Transfer/sec), and the server's CPU. */
async function measureWrk(url: string, serverPids: number[], clients: number, headers: string[] = []): Promise<Sample> {
  const cpuBefore = cpuTicks(serverPids);
  // Two wrk threads: one per core of the machine (wrk needs connections >= threads).
  const out = await run(["wrk", "-t", String(Math.min(2, clients)), "-c", String(clients), "-d", `${WRK_SECONDS}s`, "--timeout", "30s", "--latency", ...headers.flatMap((h) => ["-H", h]), url], CLIENT_ENV);
  const cpu = cpuTicks(serverPids) - cpuBefore;
  if (/Non-2xx|Socket errors/.test(out)) throw new Error(`wrk saw errors against ${url}:\n${out}`);
  const read = /requests in ([\d.]+)(ms|s|m), ([\d.]+)([KMGT]?B) read/.exec(out);
  if (!read) throw new Error(`cannot read wrk's summary:\n${out}`);
  const seconds = Number(read[1]) * ({ ms: 0.001, s: 1, m: 60 } as Record<string, number>)[read[2]!]!;
  const bytes = Number(read[3]) * UNITS[read[4]!]!;
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(out);
  const p99Ms = p99 ? Number(p99[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[p99[2]!]! : undefined;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  return { mbps: bytes / seconds / 1e6, bytes, cpuTicks: cpu, p99Ms, rps, requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0) };
}

/** What every client sends for a manifest: the media types a containerd asks for. */
const MANIFEST_ACCEPT =
  "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

const SERVER_NAMES = ["depot", "docker-registry", "nginx"] as const;
type ServerName = (typeof SERVER_NAMES)[number];

/** Requests the depot answered in the measurements: set against the lines of its log at the end. */
let depotRequests = 0;
function counted(name: ServerName, sample: Sample): Sample {
  if (name === "depot") depotRequests += sample.requests;
  return sample;
}
type Tool = "curl" | "wrk";
interface Row {
  tool: Tool;
  clients: number;
  /** best MB/s of the rounds */
  mbps: Record<ServerName, number>;
  /** wrk: best (lowest) 99th percentile latency of the rounds, ms */
  p99Ms?: Record<ServerName, number>;
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

  // One certificate and key for all three: the depot's serving certificate (SAN 127.0.0.1) from the depot CA.
  const pki = await depotTls();
  const certFile = join(work, "server.crt");
  const keyFile = join(work, "server.key");
  writeFileSync(CA, pki.caPem);
  writeFileSync(certFile, pki.tls.cert);
  writeFileSync(keyFile, pki.tls.key, { mode: 0o600 });
  // skopeo takes a directory whose ca.crt it trusts for the registry.
  const certDir = join(work, "certs.d");
  mkdirSync(certDir);
  writeFileSync(join(certDir, "ca.crt"), pki.caPem);

  // depot: `k8s-ha-offline serve` with the command line of the depot unit (assets/systemd/k8s-ha-offline-
  // depot.service, less the repository key, which only signs at start): HTTPS only, the default serving
  // threads, and its log file, where answered requests go at debug level (at most 100 lines a second per
  // thread) — so the access log is part of what is measured.
  const depotLog = join(work, "depot.log");
  const depotProc = start([process.execPath, join(ROOT, "src", "cli.ts"), "serve", "--bundle", bundle, "--listen", `127.0.0.1:${PORTS.depot}`, "--tls-cert", certFile, "--tls-key", keyFile, "--log-file", depotLog], "depot");
  const ciphers: Record<ServerName, string> = { depot: "", "docker-registry": "", nginx: "" };
  ciphers.depot = await waitFor(`https://127.0.0.1:${PORTS.depot}/v2/`, "depot");

  // docker-registry with filesystem storage, HTTPS with the same certificate; the image pushed into it by skopeo.
  writeFileSync(
    join(work, "registry.yml"),
    `version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: ${join(work, "registry-data")} }, delete: { enabled: false } }
http: { addr: 127.0.0.1:${PORTS.registry}, tls: { certificate: ${certFile}, key: ${keyFile} } }
`,
  );
  const registryProc = start(["docker-registry", "serve", join(work, "registry.yml")], "registry");
  ciphers["docker-registry"] = await waitFor(`https://127.0.0.1:${PORTS.registry}/v2/`, "registry");
  await run(["skopeo", "copy", "--src-cert-dir", certDir, "--dest-cert-dir", certDir, `docker://127.0.0.1:${PORTS.depot}/bench:v1`, `docker://127.0.0.1:${PORTS.registry}/bench:v1`]);

  // nginx serving the same bytes as a static file, HTTPS with the same certificate.
  const www = join(work, "www");
  mkdirSync(www, { recursive: true });
  chmodSync(work, 0o755); // nginx workers run as www-data and must reach the file (the master, root, reads the key)
  await run(["curl", "-s", "--fail", "--cacert", CA, "-o", join(www, "blob"), `https://127.0.0.1:${PORTS.depot}/v2/bench/blobs/${blob.digest}`]);
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
  server {
    listen 127.0.0.1:${PORTS.nginx} ssl;
    # nginx 1.22 leaves TLS 1.3 out of its default; the depot and docker-registry negotiate it.
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate ${certFile};
    ssl_certificate_key ${keyFile};
    root ${www};
  }
}
`,
  );
  const nginxProc = start(["nginx", "-c", join(work, "nginx.conf"), "-p", work, "-g", "daemon off;"], "nginx");
  ciphers.nginx = await waitFor(`https://127.0.0.1:${PORTS.nginx}/blob`, "nginx");

  const servers: Record<ServerName, { url: string; pids: number[] }> = {
    depot: { url: `https://127.0.0.1:${PORTS.depot}/v2/bench/blobs/${blob.digest}`, pids: [depotProc.pid] },
    "docker-registry": { url: `https://127.0.0.1:${PORTS.registry}/v2/bench/blobs/${blob.digest}`, pids: [registryProc.pid] },
    nginx: { url: `https://127.0.0.1:${PORTS.nginx}/blob`, pids: withChildren(nginxProc.pid) },
  };
  const names = SERVER_NAMES;
  console.log(`TLS negotiated with curl: ${names.map((n) => `${n} ${ciphers[n]}`).join("; ")}`);
  for (const n of names) if (!ciphers[n].includes(CLIENT_SUITE)) throw new Error(`${n} did not negotiate ${CLIENT_SUITE} (${ciphers[n]}): the clients' OpenSSL config was not applied`);
  // Warm the page cache and every server once.
  for (const s of Object.values(servers)) await measureCurl(s.url, s.pids, 1, 2, blob.size);

  const tools: Tool[] = WRK ? ["curl", "wrk"] : ["curl"];
  const rows: Row[] = [];
  for (const clients of CONCURRENCY) {
    const perClient = Math.max(2, Math.ceil(TOTAL_FETCHES / clients));
    const samples = Object.fromEntries(tools.map((t) => [t, Object.fromEntries(names.map((n) => [n, [] as Sample[]]))])) as Record<Tool, Record<ServerName, Sample[]>>;
    // Interleave the servers (rotating who goes first) and keep the best round, so a noisy moment favours none.
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + round) % names.length]!;
        const { url, pids } = servers[name];
        samples.curl[name].push(counted(name, await measureCurl(url, pids, clients, perClient, blob.size)));
        if (WRK) samples.wrk[name].push(counted(name, await measureWrk(url, pids, clients)));
      }
    }
    for (const tool of tools) {
      const s = samples[tool];
      const row: Row = {
        tool,
        clients,
        mbps: Object.fromEntries(names.map((n) => [n, Math.max(...s[n].map((x) => x.mbps))])) as Row["mbps"],
        ...(tool === "wrk" ? { p99Ms: Object.fromEntries(names.map((n) => [n, Math.min(...s[n].map((x) => x.p99Ms ?? Infinity))])) as Row["mbps"] } : {}),
        cpuPerGB: Object.fromEntries(
          names.map((n) => [n, s[n].reduce((a, x) => a + x.cpuTicks, 0) / 100 / (s[n].reduce((a, x) => a + x.bytes, 0) / 1e9)]),
        ) as Row["cpuPerGB"],
      };
      console.log(`${tool}, ${clients} clients: ${names.map((n) => `${n} ${row.mbps[n].toFixed(0)} MB/s (${row.cpuPerGB[n].toFixed(2)} CPU s/GB)`).join(", ")}`);
      rows.push(row);
    }
  }
  // Manifest GETs (small, many): requests per second with wrk, the depot against docker-registry's manifest
  // by digest and nginx serving the same bytes as a static file.
  const manifests: ManifestRow[] = [];
  if (WRK) {
    await run(["curl", "-s", "--fail", "--cacert", CA, "-H", MANIFEST_ACCEPT, "-o", join(www, "manifest"), `https://127.0.0.1:${PORTS.depot}/v2/bench/manifests/${img!.digest}`]);
    const manifestUrls: Record<ServerName, string> = {
      depot: `https://127.0.0.1:${PORTS.depot}/v2/bench/manifests/${img!.digest}`,
      "docker-registry": `https://127.0.0.1:${PORTS.registry}/v2/bench/manifests/${img!.digest}`,
      nginx: `https://127.0.0.1:${PORTS.nginx}/manifest`,
    };
    for (const clients of CONCURRENCY) {
      const s = Object.fromEntries(names.map((n) => [n, [] as Sample[]])) as Record<ServerName, Sample[]>;
      for (let round = 0; round < ROUNDS; round++)
        for (let i = 0; i < names.length; i++) {
          const name = names[(i + round) % names.length]!;
          s[name].push(counted(name, await measureWrk(manifestUrls[name], servers[name].pids, clients, [MANIFEST_ACCEPT])));
        }
      const row: ManifestRow = {
        clients,
        rps: Object.fromEntries(names.map((n) => [n, Math.max(...s[n].map((x) => x.rps ?? 0))])) as Record<ServerName, number>,
        p99Ms: Object.fromEntries(names.map((n) => [n, Math.min(...s[n].map((x) => x.p99Ms ?? Infinity))])) as Record<ServerName, number>,
      };
      console.log(`manifests, ${clients} clients: ${names.map((n) => `${n} ${row.rps[n].toFixed(0)} req/s (p99 ${row.p99Ms[n].toFixed(2)} ms)`).join(", ")}`);
      manifests.push(row);
    }
  }
  const peakRss = Object.fromEntries(names.map((n) => [n, peakRssMiB(servers[n].pids)])) as Record<ServerName, number>;
  // Give the last second's "N more answered request(s) not logged" line time to be written.
  await Bun.sleep(1500);
  const depotLogLines = readFileSync(depotLog, "utf8").split("\n").filter(Boolean).length;
  console.log(`depot log: ${depotLogLines} lines for ${depotRequests} requests answered`);
  report(rows, manifests, blob.size, ciphers, peakRss, { lines: depotLogLines, requests: depotRequests });
}

interface ManifestRow {
  clients: number;
  /** best requests per second of the rounds */
  rps: Record<ServerName, number>;
  /** best (lowest) 99th percentile latency, ms */
  p99Ms: Record<ServerName, number>;
}

function report(rows: Row[], manifests: ManifestRow[], size: number, ciphers: Record<ServerName, string>, peakRss: Record<ServerName, number>, depotLog: { lines: number; requests: number }) {
  const dir = join(ROOT, "test", "bench", "results");
  mkdirSync(dir, { recursive: true });
  const versions = {
    bun: Bun.version,
    "docker-registry": "distribution 2.8 (Debian docker-registry), http.tls",
    nginx: "Debian nginx, worker_processes auto, ssl, sendfile on",
    wrk: WRK ? "Debian wrk 4.1" : "not used",
  };
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? "?", loadavg: loadavg() };
  const results = rows.map((r) => ({ ...r, depotVsRegistry: r.mbps.depot / r.mbps["docker-registry"], depotVsNginx: r.mbps.depot / r.mbps.nginx }));
  const manifestResults = manifests.map((m) => ({ ...m, depotVsRegistry: m.rps.depot / m.rps["docker-registry"], depotVsNginx: m.rps.depot / m.rps.nginx }));
  writeFileSync(
    join(dir, "registry.json"),
    JSON.stringify({ date: new Date().toISOString(), tls: ciphers, depotLog, peakRssMiB: peakRss, blobBytes: size, rounds: ROUNDS, wrkSeconds: WRK ? WRK_SECONDS : 0, machine, versions, results, manifests: manifestResults }, null, 2) + "\n",
  );
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const md = [
    "# Registry blob throughput over TLS (loopback)",
    "",
    `Generated by \`bun test/bench/registry.ts\` on ${new Date().toISOString().slice(0, 10)}: one ${(size / 1048576).toFixed(0)} MiB blob over HTTPS,`,
    "the three servers with the same certificate and key (the depot's serving certificate from the depot CA);",
    `the clients offer only ${CLIENT_SUITE} (Go clients such as containerd offer it first), so every server encrypts alike.`,
    `curl: clients are curl processes each fetching the blob repeatedly over keep-alive, verifying against the depot CA;`,
    WRK ? `wrk: that many keep-alive connections for ${WRK_SECONDS} s (wrk does not verify certificates).` : "wrk: not run (--no-wrk, or wrk is not installed).",
    `Best of ${ROUNDS} interleaved rounds.`,
    `The depot ran as its unit runs it (\`k8s-ha-offline serve … --log-file\`, answered requests logged at debug, at most 100 lines a second per serving thread): its log had ${depotLog.lines} lines for the ${depotLog.requests} requests it answered.`,
    `TLS negotiated (curl, checked): ${SERVER_NAMES.map((n) => `${n} ${ciphers[n]}`).join("; ")}.`,
    `Machine: ${machine.cpus} CPUs (${machine.cpu}); the clients share these CPUs with the server; load average at the end ${machine.loadavg.map((l) => l.toFixed(1)).join(" ")}.`,
    "",
    "| client | clients | depot MB/s | docker-registry MB/s | nginx MB/s | depot / docker-registry | depot / nginx |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...results.map(
      (r) =>
        `| ${r.tool} | ${r.clients} | ${r.mbps.depot.toFixed(0)} | ${r.mbps["docker-registry"].toFixed(0)} | ${r.mbps.nginx.toFixed(0)} | ${pct(r.depotVsRegistry)} | ${pct(r.depotVsNginx)} |`,
    ),
    "",
    ...(results.some((r) => r.p99Ms)
      ? [
          "99th percentile latency of one blob request with wrk (ms, best round; lower is better):",
          "",
          "| clients | depot | docker-registry | nginx | depot / docker-registry |",
          "| ---: | ---: | ---: | ---: | ---: |",
          ...results.filter((r) => r.p99Ms).map((r) => `| ${r.clients} | ${r.p99Ms!.depot.toFixed(1)} | ${r.p99Ms!["docker-registry"].toFixed(1)} | ${r.p99Ms!.nginx.toFixed(1)} | ${(r.p99Ms!.depot / r.p99Ms!["docker-registry"]).toFixed(2)} |`),
          "",
        ]
      : []),
    ...(manifestResults.length
      ? [
          "Manifest GETs with wrk (the depot's manifest, docker-registry's by digest, nginx the same bytes as a static file): requests per second, best round, and p99 ms:",
          "",
          "| clients | depot req/s | docker-registry req/s | nginx req/s | depot / docker-registry | depot / nginx | p99 ms depot / docker-registry / nginx |",
          "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
          ...manifestResults.map((m) => `| ${m.clients} | ${m.rps.depot.toFixed(0)} | ${m.rps["docker-registry"].toFixed(0)} | ${m.rps.nginx.toFixed(0)} | ${pct(m.depotVsRegistry)} | ${pct(m.depotVsNginx)} | ${m.p99Ms.depot.toFixed(2)} / ${m.p99Ms["docker-registry"].toFixed(2)} / ${m.p99Ms.nginx.toFixed(2)} |`),
          "",
        ]
      : []),
    "Server CPU seconds per GB served (all rounds; lower is better, and unlike MB/s it does not depend on what else the machine runs):",
    "",
    "| client | clients | depot | docker-registry | nginx |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...results.map((r) => `| ${r.tool} | ${r.clients} | ${r.cpuPerGB.depot.toFixed(2)} | ${r.cpuPerGB["docker-registry"].toFixed(2)} | ${r.cpuPerGB.nginx.toFixed(2)} |`),
    "",
    `Peak resident memory over the whole run (MiB): ${SERVER_NAMES.map((n) => `${n} ${peakRss[n].toFixed(0)}`).join(", ")} (nginx: master and workers summed).`,
    "",
    "Target: depot >= docker-registry at every concurrency (issue 15: over TLS with the same certificate).",
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
