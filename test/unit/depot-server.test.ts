// The depot server as curl sees it, over TLS as installed (verified with the depot CA): registry endpoints, byte ranges, errors, read-only
// enforcement, path traversal, limits, port conflicts, access log and graceful shutdown.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDepotServer, type DepotServer } from "../../src/depot/server.ts";
import { lineBudget } from "../../src/depot/http/handler.ts";
import { parseEndpoint } from "../../src/depot/endpoint.ts";
import { UsageError } from "../../src/util/errors.ts";
import { collectingLogger, sha256, writeFixtureBundle, type BuiltImage } from "./support/oci-fixture.ts";
import { depotTls } from "./support/depot-tls.ts";

const PORT = 5110;
const BASE = `https://127.0.0.1:${PORT}`;
/** The serving certificate (names 127.0.0.1 as depot.address) and the depot CA file curl verifies it with. */
let tls: { cert: string; key: string };
let caFile: string;
let dir: string;
let bundle: string;
let depot: DepotServer;
let images: BuiltImage[];
const log = collectingLogger();
const image = (ref: string) => images.find((i) => i.ref === ref)!;

interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

let seq = 0;
/** curl with --path-as-is, so traversal attempts reach the server exactly as typed. Async: the server runs in this process. */
async function curl(path: string, ...args: string[]): Promise<CurlResult> {
  const n = seq++;
  const bodyFile = join(dir, `body-${n}`);
  const headerFile = join(dir, `headers-${n}`);
  const url = path.startsWith("http") ? path : BASE + path;
  const p = Bun.spawn(["curl", "-s", "--cacert", caFile, "--path-as-is", "-o", bodyFile, "-D", headerFile, "-w", "%{http_code}", ...args, url], { stdout: "pipe", stderr: "pipe" });
  const [out, , code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`curl ${url} exited ${code}`);
  const headers: Record<string, string> = {};
  for (const line of readFileSync(headerFile, "utf8").split("\r\n").slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = Buffer.alloc(0);
  try {
    body = readFileSync(bodyFile);
  } catch {
    // HEAD and empty bodies leave no file
  }
  return { status: Number(out), headers, body };
}

const errorCode = (r: CurlResult) => JSON.parse(r.body.toString()).errors[0].code as string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "depot-server-"));
  bundle = join(dir, "bundle");
  images = await writeFixtureBundle(bundle);
  writeFileSync(join(dir, "secret.txt"), "outside the bundle\n");
  symlinkSync(join(dir, "secret.txt"), join(bundle, "files", "escape.tar.gz"));
  symlinkSync("/etc", join(bundle, "repo", "debian12", "etc"));
  const pki = await depotTls();
  tls = pki.tls;
  caFile = join(dir, "depot-ca.crt");
  writeFileSync(caFile, pki.caPem);
  depot = await startDepotServer({ bundleDir: bundle, listen: { address: "127.0.0.1", port: PORT }, log, tls });
});

afterAll(async () => {
  await depot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("registry endpoints", () => {
  test("GET /v2/ answers {} with the API version header", async () => {
    const r = await curl("/v2/");
    expect(r.status).toBe(200);
    expect(r.headers["docker-distribution-api-version"]).toBe("registry/2.0");
    expect(JSON.parse(r.body.toString())).toEqual({});
    expect(depot.url).toBe(BASE);
  });

  test("HEAD manifest by tag gives type, digest and length", async () => {
    const pause = image("registry.k8s.io/pause:3.5");
    const get = await curl("/v2/pause/manifests/3.5");
    const head = await curl("/v2/google_containers/pause/manifests/3.5", "-I");
    expect(head.status).toBe(200);
    expect(head.headers["content-type"]).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(head.headers["docker-content-digest"]).toBe(pause.digest);
    expect(Number(head.headers["content-length"])).toBe(get.body.length);
    expect(sha256(get.body)).toBe(pause.digest);
  });

  test("a client that does not accept an index gets the host platform's manifest", async () => {
    const api = image("registry.k8s.io/kube-apiserver:v1.22.2");
    const asIndex = await curl("/v2/kube-apiserver/manifests/v1.22.2", "-H", "Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json");
    expect(asIndex.headers["docker-content-digest"]).toBe(api.digest);
    const single = await curl("/v2/kube-apiserver/manifests/v1.22.2", "-H", "Accept: application/vnd.oci.image.manifest.v1+json");
    expect(single.headers["docker-content-digest"]).toBe(api.manifests["linux/amd64"]);
    expect(sha256(single.body)).toBe(api.manifests["linux/amd64"]!);
    const coredns = image("registry.k8s.io/coredns/coredns:v1.8.4");
    const docker = await curl("/v2/coredns/coredns/manifests/v1.8.4", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json");
    expect(docker.headers["content-type"]).toBe("application/vnd.docker.distribution.manifest.v2+json");
    expect(docker.headers["docker-content-digest"]).toBe(coredns.manifests["linux/amd64"]);
  });

  test("manifests by digest, and the arm64 child of an index", async () => {
    const api = image("registry.k8s.io/kube-apiserver:v1.22.2");
    const r = await curl(`/v2/google_containers/kube-apiserver/manifests/${api.manifests["linux/arm64"]}`);
    expect(r.status).toBe(200);
    expect(sha256(r.body)).toBe(api.manifests["linux/arm64"]!);
  });

  test("a manifest by digest answers alike on its quick path (the path as sent) and on the full route (percent-encoded, dot segments)", async () => {
    const api = image("registry.k8s.io/kube-apiserver:v1.22.2");
    const [alg, hex] = api.digest.split(":");
    const quick = await curl(`/v2/kube-apiserver/manifests/${api.digest}`);
    const withQuery = await curl(`/v2/kube-apiserver/manifests/${api.digest}?ignored=1`);
    const encoded = await curl(`/v2/kube-apiserver/manifests/${alg}%3A${hex}`);
    const dotted = await curl(`/v2/google_containers/../kube-apiserver/manifests/${api.digest}`);
    const pick = (r: CurlResult) => ({
      status: r.status,
      type: r.headers["content-type"],
      digest: r.headers["docker-content-digest"],
      etag: r.headers["etag"],
      length: r.headers["content-length"],
      api: r.headers["docker-distribution-api-version"],
      body: sha256(r.body),
    });
    expect(pick(quick)).toEqual({ status: 200, type: "application/vnd.oci.image.index.v1+json", digest: api.digest, etag: `"${api.digest}"`, length: String(quick.body.length), api: "registry/2.0", body: api.digest });
    for (const other of [withQuery, encoded, dotted]) expect(pick(other)).toEqual(pick(quick));
    const head = await curl(`/v2/kube-apiserver/manifests/${api.digest}`, "-I");
    // (with -I curl writes the header block where the body would go: no manifest in it)
    expect({ status: head.status, length: head.headers["content-length"], body: head.body.toString().includes("schemaVersion") }).toEqual({ status: 200, length: String(quick.body.length), body: false });
    // Not under a repository that does not reference it, and no write through the quick path either.
    expect(errorCode(await curl(`/v2/pause/manifests/${api.digest}`))).toBe("MANIFEST_UNKNOWN");
    const del = await curl(`/v2/kube-apiserver/manifests/${api.digest}`, "-X", "DELETE");
    expect({ status: del.status, code: errorCode(del) }).toEqual({ status: 405, code: "UNSUPPORTED" });
  });

  test("blob GET, HEAD and ranges", async () => {
    const pause = image("registry.k8s.io/pause:3.5");
    const layer = pause.blobs[pause.blobs.length - 1]!;
    const full = await curl(`/v2/pause/blobs/${layer.digest}`);
    expect(full.status).toBe(200);
    expect(sha256(full.body)).toBe(layer.digest);
    expect(full.headers["docker-content-digest"]).toBe(layer.digest);
    expect(full.headers["content-disposition"]).toBe("inline");
    const head = await curl(`/v2/pause/blobs/${layer.digest}`, "-I");
    expect(head.headers["content-length"]).toBe(String(layer.size));
    const part = await curl(`/v2/pause/blobs/${layer.digest}`, "-H", "Range: bytes=10-19");
    expect(part.status).toBe(206);
    expect(part.headers["content-range"]).toBe(`bytes 10-19/${layer.size}`);
    expect(part.body.equals(full.body.subarray(10, 20))).toBe(true);
    const tail = await curl(`/v2/pause/blobs/${layer.digest}`, "-H", "Range: bytes=-7");
    expect(tail.status).toBe(206);
    expect(tail.body.equals(full.body.subarray(layer.size - 7))).toBe(true);
    const open = await curl(`/v2/pause/blobs/${layer.digest}`, "-H", "Range: bytes=100-");
    expect(open.body.equals(full.body.subarray(100))).toBe(true);
    const beyond = await curl(`/v2/pause/blobs/${layer.digest}`, "-H", `Range: bytes=${layer.size}-`);
    expect(beyond.status).toBe(416);
    expect(beyond.headers["content-range"]).toBe(`bytes */${layer.size}`);
  });

  test("a blob is only served by a repository that references it", async () => {
    const pauseLayer = image("registry.k8s.io/pause:3.5").blobs[1]!.digest;
    const r = await curl(`/v2/flannel/flannel/blobs/${pauseLayer}`);
    expect(r.status).toBe(404);
    expect(errorCode(r)).toBe("BLOB_UNKNOWN");
    const m = await curl(`/v2/flannel/flannel/manifests/${image("registry.k8s.io/pause:3.5").digest}`);
    expect(errorCode(m)).toBe("MANIFEST_UNKNOWN");
  });

  test("malformed digests are 400 DIGEST_INVALID", async () => {
    for (const bad of ["sha256:abc", `sha256:${"Z".repeat(64)}`, `sha256:${"a".repeat(65)}`, "sha256:", ":abc"]) {
      for (const kind of ["blobs", "manifests"]) {
        const r = await curl(`/v2/pause/${kind}/${bad}`);
        expect({ bad, kind, status: r.status, code: errorCode(r) }).toEqual({ bad, kind, status: 400, code: "DIGEST_INVALID" });
      }
    }
  });

  test("spec error bodies for unknown names, tags and bad names", async () => {
    const cases: [string, number, string][] = [
      ["/v2/nothere/manifests/latest", 404, "NAME_UNKNOWN"],
      ["/v2/pause/manifests/latest", 404, "MANIFEST_UNKNOWN"],
      [`/v2/pause/blobs/sha256:${"0".repeat(64)}`, 404, "BLOB_UNKNOWN"],
      ["/v2/Pause/manifests/3.5", 400, "NAME_INVALID"],
      ["/v2/pause/tags/list?n=x", 400, "PAGINATION_NUMBER_INVALID"],
    ];
    for (const [path, status, code] of cases) {
      const r = await curl(path);
      expect({ path, status: r.status }).toEqual({ path, status });
      const body = JSON.parse(r.body.toString());
      expect(body.errors[0].code).toBe(code);
      expect(typeof body.errors[0].message).toBe("string");
      expect(r.headers["content-type"]).toBe("application/json");
    }
  });

  test("catalog and tags pagination with n/last and Link", async () => {
    const all = JSON.parse((await curl("/v2/_catalog")).body.toString()).repositories as string[];
    expect(all).toContain("google_containers/kube-apiserver");
    expect(all).toContain("flannel/flannel");
    expect(all).toContain("library/busybox");
    const pages: string[] = [];
    let next: string | undefined = "/v2/_catalog?n=3";
    let rounds = 0;
    while (next && rounds++ < 20) {
      const r = await curl(next);
      const repos = JSON.parse(r.body.toString()).repositories as string[];
      expect(repos.length).toBeLessThanOrEqual(3);
      pages.push(...repos);
      next = /<([^>]+)>;\s*rel="next"/.exec(r.headers["link"] ?? "")?.[1];
    }
    expect(pages).toEqual(all);
    const tags = JSON.parse((await curl("/v2/google_containers/pause/tags/list")).body.toString());
    expect(tags).toEqual({ name: "google_containers/pause", tags: ["3.5"] });
    const after = JSON.parse((await curl("/v2/google_containers/pause/tags/list?last=3.5")).body.toString());
    expect(after.tags).toEqual([]);
  });
});

describe("read-only", () => {
  test("every write method is 405 UNSUPPORTED", async () => {
    for (const [method, path] of [
      ["POST", "/v2/pause/blobs/uploads/"],
      ["PUT", "/v2/pause/manifests/3.5"],
      ["PATCH", "/v2/pause/blobs/uploads/x"],
      ["DELETE", `/v2/pause/manifests/${image("registry.k8s.io/pause:3.5").digest}`],
    ]) {
      const r = await curl(path!, "-X", method!, "--data-binary", "x");
      expect({ method, status: r.status, code: errorCode(r) }).toEqual({ method, status: 405, code: "UNSUPPORTED" });
    }
    const put = await curl("/files/new.tar.gz", "-X", "PUT", "--data-binary", "x");
    expect(put.status).toBe(405);
    expect(put.headers["allow"]).toBe("GET, HEAD");
  });
});

describe("package repository and files", () => {
  test("serves repo and files with ranges", async () => {
    const pkgs = await curl("/repo/debian12/Packages");
    expect(pkgs.status).toBe(200);
    expect(pkgs.body.toString()).toBe(readFileSync(join(bundle, "repo", "debian12", "Packages"), "utf8"));
    const etcd = await curl("/files/etcd-v3.4.9-linux-amd64.tar.gz", "-H", "Range: bytes=0-1");
    expect(etcd.status).toBe(206);
    expect([...etcd.body]).toEqual([0x1f, 0x8b]); // gzip magic
  });

  test("no request reaches a file outside the bundle", async () => {
    const attempts = [
      "/repo/../../../../etc/passwd",
      "/repo/debian12/../../../secret.txt",
      "/repo/debian12/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/repo/debian12/%2E%2E/%2E%2E/lock.json",
      "/files/..%2f..%2fsecret.txt",
      "/files/%2fetc%2fpasswd",
      "/files//etc/passwd",
      "/files/..%5c..%5csecret.txt",
      "/files/escape.tar.gz",
      "/repo/debian12/etc/passwd",
      "/files/%00",
      "/files/%zz",
    ];
    for (const path of attempts) {
      const r = await curl(path);
      expect({ path, denied: r.status === 400 || r.status === 404 }).toEqual({ path, denied: true });
      expect(r.body.toString()).not.toContain("root:");
      expect(r.body.toString()).not.toContain("outside the bundle");
    }
  });

  test("directories and unknown paths are 404", async () => {
    for (const path of ["/repo/debian12/", "/repo/debian12", "/files/", "/", "/images/pause.tar"]) {
      expect({ path, status: (await curl(path)).status }).toEqual({ path, status: 404 });
    }
  });
});

describe("limits and operations", () => {
  test("an oversized URL or header block is refused", async () => {
    const longUrl = await curl(`/files/${"a".repeat(20_000)}`);
    expect([400, 414, 431]).toContain(longUrl.status);
    // Longer than any real client's but within Bun's own header limit: the depot's check answers.
    const overLimit = await curl(`/v2/pause/tags/list?last=${"a".repeat(5_000)}`);
    expect(overLimit.status).toBe(414);
    // Over TLS Bun answers an oversized header block by closing the connection (curl: 55/56, send/receive
    // failure) instead of a 431: refused either way, nothing served.
    const bigHeader = await curl("/v2/", "-H", `X-Big: ${"b".repeat(70_000)}`).then((r) => r.status, (e: Error) => e.message);
    expect(String(bigHeader)).toMatch(/^(400|431)$|exited 5[56]$/);
  });

  test("access log lines carry method, path, status, bytes and duration: answered requests at debug, refusals at info", async () => {
    await curl("/v2/pause/manifests/3.5");
    await curl(`/v2/pause/manifests/${image("registry.k8s.io/pause:3.5").digest}`);
    await curl("/v2/pause/manifests/9.9");
    await curl("/files/x", "-X", "DELETE");
    // A serving thread may have answered: its line arrives by message, shortly.
    const find = (what: string) => log.lines.find((l) => l.includes(what));
    for (let i = 0; i < 50 && !(find("/manifests/3.5 ") && find("/manifests/9.9 ") && find("DELETE")); i++) await Bun.sleep(20);
    expect(find("GET /v2/pause/manifests/3.5 ")).toMatch(/^DEBUG depot: 127\.0\.0\.1 GET \/v2\/pause\/manifests\/3\.5 200 \d+ \d+\.\dms$/);
    // The quick path of a manifest by digest is logged like any other answer.
    const byDigest = `GET /v2/pause/manifests/${image("registry.k8s.io/pause:3.5").digest} `;
    for (let i = 0; i < 50 && !find(byDigest); i++) await Bun.sleep(20);
    expect(find(byDigest)).toMatch(/^DEBUG depot: 127\.0\.0\.1 GET \/v2\/pause\/manifests\/sha256:[0-9a-f]{64} 200 \d+ \d+\.\dms$/);
    expect(find("GET /v2/pause/manifests/9.9 ")).toMatch(/^depot: 127\.0\.0\.1 GET \/v2\/pause\/manifests\/9\.9 404 \d+ \d+\.\dms$/);
    expect(find("DELETE /files/x ")).toMatch(/^depot: 127\.0\.0\.1 DELETE \/files\/x 405 /);
  });

  test("with a run logger that shows no debug line (no -v, no log file), answered requests make no line at all; refusals still do", async () => {
    const lines: string[] = [];
    const quietRun = { verbose: false, logFile: undefined, info: (m: string) => void lines.push(m), warn: (m: string) => void lines.push(`WARN ${m}`), debug: (m: string) => void lines.push(`DEBUG ${m}`) };
    const port = 5115;
    const d = await startDepotServer({ bundleDir: bundle, listen: { address: "127.0.0.1", port }, log: quietRun, threads: 2, tls });
    try {
      // Several connections, so both threads answer some.
      await Promise.all(Array.from({ length: 4 }, () => curl(`https://127.0.0.1:${port}/v2/pause/manifests/3.5`)));
      await Promise.all(Array.from({ length: 4 }, () => curl(`https://127.0.0.1:${port}/v2/nothing-here/manifests/1`)));
      for (let i = 0; i < 50 && lines.filter((l) => l.includes(" 404 ")).length < 4; i++) await Bun.sleep(20);
      expect(lines.filter((l) => /^depot: 127\.0\.0\.1 GET \/v2\/nothing-here\/manifests\/1 404 /.test(l)).length).toBe(4);
      expect(lines.filter((l) => l.includes("/v2/pause/manifests/3.5"))).toEqual([]);
    } finally {
      await d.stop();
    }
  });

  test("a port already in use gives the operator a clear error", async () => {
    const err = await startDepotServer({ bundleDir: bundle, listen: { address: "127.0.0.1", port: PORT }, log: collectingLogger() }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe(`depot: 127.0.0.1:${PORT} is already in use by another process — stop it or set depot.port`);
    // Also when the holder is another process, not this one.
    const holder = Bun.spawn(
      [process.execPath, "-e", `Bun.serve({hostname:"127.0.0.1",port:${PORT + 1},reusePort:false,fetch:()=>new Response("x")});console.log("up");await Bun.sleep(60000)`],
      { stdout: "pipe" },
    );
    try {
      await holder.stdout.getReader().read(); // "up"
      const err2 = await startDepotServer({ bundleDir: bundle, listen: { address: "127.0.0.1", port: PORT + 1 }, log: collectingLogger() }).catch((e) => e);
      expect(err2.message).toContain("is already in use by another process");
    } finally {
      holder.kill();
      await holder.exited;
    }
  });

  test("bad listen addresses and bundle paths are usage errors", async () => {
    for (const listen of ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "x:y"]) {
      expect(() => parseEndpoint(listen)).toThrow(UsageError);
      expect(() => parseEndpoint(listen)).toThrow(listen);
    }
    const err = await startDepotServer({ bundleDir: join(dir, "nope"), listen: { address: "127.0.0.1", port: 5119 }, log: collectingLogger() }).catch((e) => e);
    expect(err.message).toContain("does not exist");
  });

  test("any number of serving threads answers the same, each over TLS", async () => {
    const pause = image("registry.k8s.io/pause:3.5");
    for (const [threads, port] of [[1, 5113], [3, 5114]] as const) {
      const logged = collectingLogger();
      const d = await startDepotServer({ bundleDir: bundle, listen: { address: "127.0.0.1", port }, log: logged, threads, tls });
      try {
        expect(logged.lines.join("\n")).toContain(threads === 1 ? "1 serving thread)" : `${threads} serving threads)`);
        // Several connections, so the kernel spreads them over the threads.
        const answers = await Promise.all(Array.from({ length: 6 }, () => curl(`https://127.0.0.1:${port}/v2/pause/manifests/3.5`, "-I")));
        for (const a of answers) expect(a.headers["docker-content-digest"]).toBe(pause.digest);
      } finally {
        await d.stop();
        await d.stop(); // a second stop is harmless
      }
      const refused = Bun.spawn(["curl", "-s", "--cacert", caFile, "-o", "/dev/null", `https://127.0.0.1:${port}/v2/`]);
      expect(await refused.exited).toBe(7); // every thread has let go of the port
    }
  });

  test("stop() refuses new connections but finishes a download in flight", async () => {
    const slowBundle = join(dir, "slow-bundle");
    mkdirSync(join(slowBundle, "files"), { recursive: true });
    const payload = randomBytes(24 * 1024 * 1024);
    writeFileSync(join(slowBundle, "files", "big.tar.gz"), payload);
    const slow = await startDepotServer({ bundleDir: slowBundle, listen: { address: "127.0.0.1", port: 5112 }, log: collectingLogger(), tls });
    // A rate-limited download is still running when stop() is called.
    const out = join(dir, "big.out");
    const download = Bun.spawn(["curl", "-s", "--cacert", caFile, "--limit-rate", "8M", "-o", out, "-w", "%{http_code}", `${slow.url}/files/big.tar.gz`], { stdout: "pipe" });
    while (!(await Bun.file(out).exists()) || Bun.file(out).size === 0) await Bun.sleep(20);
    const stopped = slow.stop();
    const late = Bun.spawn(["curl", "-s", "--cacert", caFile, "-o", "/dev/null", `${slow.url}/files/big.tar.gz`]);
    expect(await late.exited).toBe(7); // curl: failed to connect
    await stopped;
    expect(await download.exited).toBe(0);
    expect(await new Response(download.stdout).text()).toBe("200");
    expect(sha256(readFileSync(out))).toBe(sha256(payload));
  }, 30_000);
});

describe("requests a registry client should not send (issue 20: independent pull-side check)", () => {
  test("a manifest reference that is neither a valid tag nor a digest is 404 MANIFEST_UNKNOWN, as docker-registry answers", async () => {
    for (const ref of ["-bad", "a".repeat(129), "tag%20with%20space"]) {
      const r = await curl(`/v2/pause/manifests/${ref}`);
      expect({ ref, status: r.status, code: errorCode(r) }).toEqual({ ref, status: 404, code: "MANIFEST_UNKNOWN" });
    }
  });

  /** A raw request over TLS (curl always sends Host). */
  async function raw(request: string): Promise<string> {
    let text = "";
    await new Promise<void>((resolve, reject) => {
      Bun.connect({
        hostname: "127.0.0.1",
        port: PORT,
        tls: { ca: readFileSync(caFile, "utf8"), serverName: "127.0.0.1" },
        socket: {
          open: (s) => void s.write(request),
          data: (_s, d) => void (text += d.toString()),
          close: () => resolve(),
          error: (_s, e) => reject(e),
        },
      }).catch(reject);
      setTimeout(resolve, 3000);
    });
    return text;
  }

  test("HTTP/1.0 without a Host header: 400, not a 500 internal error", async () => {
    expect(await raw("GET /v2/ HTTP/1.0\r\n\r\n")).toMatch(/^HTTP\/1\.[01] 400 /);
  });

  test("CONNECT: 405, the depot is no proxy", async () => {
    expect(await raw("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")).toMatch(/^HTTP\/1\.[01] 405 /);
  });
});

test("answered-request lines: at most N a second, the rest counted in one line when the second is over", () => {
  let t = 1_000_000;
  const said: string[] = [];
  const admit = lineBudget(3, (l) => void said.push(l), () => t);
  expect([admit(), admit(), admit(), admit(), admit()]).toEqual([true, true, true, false, false]);
  t += 999;
  expect(admit()).toBe(false);
  expect(said).toEqual([]);
  t += 1; // the next second: the count of the last one first, then a fresh budget
  expect(admit()).toBe(true);
  expect(said).toEqual(["depot: 3 more answered request(s) not logged one by one (over 3 lines a second)"]);
  t += 5_000;
  expect(admit()).toBe(true);
  expect(said.length).toBe(1); // nothing was left out since
});
