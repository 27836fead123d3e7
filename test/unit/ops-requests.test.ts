// The request stream of the failover drill against a real TLS server on loopback (certificates made
// by openssl): verified against the given CA only, one fresh TLS connection per request, and bounded.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { RequestStream, readyzRequest } from "../../src/ops/requests.ts";
import { must, tempFiles } from "./support/openssl.ts";

const files = tempFiles();

/** A CA and a server certificate for 127.0.0.1 signed by it. */
function makeCa(name: string) {
  const key = files.path(`${name}-ca.key`);
  const crt = files.path(`${name}-ca.crt`);
  must(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", `/CN=${name}-ca`]);
  return { key, crt, pem: must(["cat", crt]) };
}

let server: Server;
let url = "";
let connections = 0;
let status = 200;
let ca: ReturnType<typeof makeCa>;
let otherCa: ReturnType<typeof makeCa>;

beforeAll(async () => {
  ca = makeCa("cluster");
  otherCa = makeCa("other");
  const key = files.path("server.key");
  const csr = files.path("server.csr");
  const crt = files.path("server.crt");
  must(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=kube-apiserver"]);
  files.put("ext.cnf", "subjectAltName=IP:127.0.0.1\n");
  must(["openssl", "x509", "-req", "-in", csr, "-CA", ca.crt, "-CAkey", ca.key, "-CAcreateserial", "-out", crt, "-days", "1", "-extfile", files.path("ext.cnf")]);
  server = createServer({ key: must(["cat", key]), cert: must(["cat", crt]) }, (req, res) => {
    res.writeHead(req.url === "/readyz" ? status : 404).end(status === 200 ? "ok" : "[-]etcd failed");
  });
  server.on("secureConnection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
});

afterAll(() => {
  server?.close();
  files.remove();
});

describe("readyzRequest", () => {
  test("succeeds against the cluster CA, on a new TLS connection each time", async () => {
    const send = readyzRequest(url, ca.pem, 3_000);
    const before = connections;
    for (let i = 0; i < 5; i++) await send();
    expect(connections - before).toBe(5);
  });

  test("refuses a server whose certificate another CA signed", async () => {
    await expect(readyzRequest(url, otherCa.pem, 3_000)()).rejects.toThrow();
  });

  test("a non-200 /readyz is a failed request, with the status in the error", async () => {
    status = 500;
    try {
      await expect(readyzRequest(url, ca.pem, 3_000)()).rejects.toThrow(/HTTP 500/);
    } finally {
      status = 200;
    }
  });

  test("nothing listening is a failed request", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await expect(readyzRequest(`https://127.0.0.1:${port}/readyz`, ca.pem, 3_000)()).rejects.toThrow();
  });
});

describe("RequestStream", () => {
  test("stops by itself at maxRequests and records every outcome", async () => {
    let n = 0;
    const stream = new RequestStream(async () => {
      if (++n % 2 === 0) throw new Error("even");
    }, { requestsPerSecond: 200, maxRequests: 12, maxSeconds: 60 });
    stream.start();
    while (stream.running) await Bun.sleep(10);
    await stream.stop();
    expect(n).toBe(12);
    expect(stream.records.length).toBe(12);
    expect(stream.records.filter((r) => !r.ok).every((r) => r.error === "even")).toBe(true);
    expect(stream.records.filter((r) => r.ok).length).toBe(6);
  });

  test("a hung request does not hold the stream back, and stop() waits for it", async () => {
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    let calls = 0;
    const stream = new RequestStream(() => (++calls === 1 ? hung : Promise.resolve()), { requestsPerSecond: 100, maxRequests: 6, maxSeconds: 60 });
    stream.start();
    while (stream.running) await Bun.sleep(10);
    expect(calls).toBe(6);
    expect(stream.records.length).toBe(5);
    const stopped = stream.stop();
    release();
    await stopped;
    expect(stream.records.length).toBe(6);
    const first = stream.records.find((r) => r.start === Math.min(...stream.records.map((x) => x.start)))!;
    expect(stream.firstSuccessFrom(first.start)).toBe(first);
  });
});
