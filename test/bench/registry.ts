// Benchmark (not a test): blob download throughput on loopback, same run, same bytes, for
//   depot           — this project's server, blob served by byte range out of the image tar
//   docker-registry — Debian's distribution 2.8 with filesystem storage, image pushed with skopeo
//   nginx           — the same bytes as a static file (the practical limit)
// at 1, 8 and 32 concurrent clients. A client is one curl process fetching the blob N times over
// one keep-alive connection. Writes test/bench/results/registry.{md,json}.
//   bun test/bench/registry.ts [--mib 32] [--rounds 3] [--quick]
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
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

/** `clients` curl processes, each fetching `url` `perClient` times; returns MB/s over the wall time. */
async function measure(url: string, clients: number, perClient: number, size: number): Promise<number> {
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
  let bytes = 0;
  for (const [out, code] of outs) {
    if (code !== 0) throw new Error(`a client failed against ${url} (curl exit ${code})`);
    for (const line of out.trim().split("\n")) {
      if (Number(line) !== size) throw new Error(`short download from ${url}: ${line} of ${size} bytes`);
      bytes += Number(line);
    }
  }
  return bytes / seconds / 1e6;
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
await startDepotServer({ bundleDir: ${JSON.stringify(bundle)}, listen: "127.0.0.1:${PORTS.depot}", log: quiet });`,
  );
  start([process.execPath, depotScript], "depot");
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
  start(["docker-registry", "serve", join(work, "registry.yml")], "registry");
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
  start(["nginx", "-c", join(work, "nginx.conf"), "-p", work, "-g", "daemon off;"], "nginx");
  await waitFor(`http://127.0.0.1:${PORTS.nginx}/blob`);

  const urls = {
    depot: `http://127.0.0.1:${PORTS.depot}/v2/bench/blobs/${blob.digest}`,
    "docker-registry": `http://127.0.0.1:${PORTS.registry}/v2/bench/blobs/${blob.digest}`,
    nginx: `http://127.0.0.1:${PORTS.nginx}/blob`,
  };
  // Warm the page cache and every server once.
  for (const url of Object.values(urls)) await measure(url, 1, 2, blob.size);

  const rows: { clients: number; depot: number; "docker-registry": number; nginx: number }[] = [];
  for (const clients of CONCURRENCY) {
    const perClient = Math.max(2, Math.ceil(TOTAL_FETCHES / clients));
    const row = { clients, depot: 0, "docker-registry": 0, nginx: 0 };
    // Interleave the servers and keep the best of rounds, so a noisy moment does not favour one.
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, url] of Object.entries(urls) as [keyof typeof urls, string][]) {
        row[name] = Math.max(row[name], await measure(url, clients, perClient, blob.size));
      }
    }
    console.log(`${clients} clients: depot ${row.depot.toFixed(0)} MB/s, docker-registry ${row["docker-registry"].toFixed(0)} MB/s, nginx ${row.nginx.toFixed(0)} MB/s`);
    rows.push(row);
  }
  report(rows, blob.size);
}

function report(rows: { clients: number; depot: number; "docker-registry": number; nginx: number }[], size: number) {
  const dir = join(ROOT, "test", "bench", "results");
  mkdirSync(dir, { recursive: true });
  const versions = {
    bun: Bun.version,
    "docker-registry": "distribution 2.8 (Debian docker-registry)",
    nginx: "Debian nginx, worker_processes auto, sendfile on",
  };
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? "?" };
  const results = rows.map((r) => ({ ...r, depotVsRegistry: r.depot / r["docker-registry"], depotVsNginx: r.depot / r.nginx }));
  writeFileSync(join(dir, "registry.json"), JSON.stringify({ date: new Date().toISOString(), blobBytes: size, machine, versions, results }, null, 2) + "\n");
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const md = [
    "# Registry blob throughput (loopback)",
    "",
    `Generated by \`bun test/bench/registry.ts\` on ${new Date().toISOString().slice(0, 10)}: one ${(size / 1048576).toFixed(0)} MiB blob,`,
    `clients are curl processes each fetching it repeatedly over keep-alive; best of ${ROUNDS} interleaved rounds.`,
    `Machine: ${machine.cpus} CPUs (${machine.cpu}); the clients share these CPUs with the server.`,
    "",
    "| clients | depot MB/s | docker-registry MB/s | nginx MB/s | depot / docker-registry | depot / nginx |",
    "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ...results.map((r) => `| ${r.clients} | ${r.depot.toFixed(0)} | ${r["docker-registry"].toFixed(0)} | ${r.nginx.toFixed(0)} | ${pct(r.depotVsRegistry)} | ${pct(r.depotVsNginx)} |`),
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
