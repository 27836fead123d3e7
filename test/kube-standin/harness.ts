// Test harness: a real etcd (TLS, client-cert auth) and a real registry (Debian's docker-registry)
// on loopback, the stand-in built as kubeadm/kubectl, and "nodes" that are separate roots on one machine.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readRecords } from "./lib/records.ts";

const HERE = import.meta.dir;

export function sh(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: opts.cwd, env: { ...process.env, ...opts.env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** An etcd PKI made with openssl (independent of the code under test): CA, server cert for 127.0.0.1, client cert. */
export function etcdPki(dir: string) {
  fs.mkdirSync(dir, { recursive: true });
  const o = (...a: string[]) => sh("openssl", a, { cwd: dir });
  o("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-subj", "/CN=etcd-ca", "-days", "2");
  fs.writeFileSync(path.join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  fs.writeFileSync(path.join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const [name, ext] of [["server", "server.ext"], ["client", "client.ext"]]) {
    o("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", `/CN=etcd-${name}`);
    o("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", ext!);
  }
  return { ca: path.join(dir, "ca.pem"), cert: path.join(dir, "client.pem"), key: path.join(dir, "client-key.pem"), serverCert: path.join(dir, "server.pem"), serverKey: path.join(dir, "server-key.pem") };
}

async function waitFor(what: string, probe: () => Promise<boolean>, tries = 100) {
  for (let i = 0; i < tries; i++) {
    if (await probe().catch(() => false)) return;
    await Bun.sleep(200);
  }
  throw new Error(`${what} did not come up`);
}

export async function startEtcd(dir: string, clientPort: number, peerPort: number) {
  const pki = etcdPki(path.join(dir, "pki"));
  const url = `https://127.0.0.1:${clientPort}`;
  const proc = spawn("etcd", [
    "--name", "s1", "--data-dir", path.join(dir, "data"),
    "--listen-client-urls", url, "--advertise-client-urls", url,
    "--listen-peer-urls", `http://127.0.0.1:${peerPort}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peerPort}`,
    "--initial-cluster", `s1=http://127.0.0.1:${peerPort}`,
    "--cert-file", pki.serverCert, "--key-file", pki.serverKey, "--client-cert-auth", "--trusted-ca-file", pki.ca,
  ], { stdio: ["ignore", fs.openSync(path.join(dir, "etcd.log"), "a"), fs.openSync(path.join(dir, "etcd.log"), "a")] });
  const tls = { ca: fs.readFileSync(pki.ca, "utf8"), cert: fs.readFileSync(pki.cert, "utf8"), key: fs.readFileSync(pki.key, "utf8") };
  await waitFor("etcd", async () => (await fetch(`${url}/health`, { tls } as RequestInit)).ok);
  return { proc, url, pki, tls };
}

/** A CA and a serving certificate for 127.0.0.1 made with openssl: the registry stands in for the TLS depot. */
export function depotPki(dir: string) {
  fs.mkdirSync(dir, { recursive: true });
  const o = (...a: string[]) => sh("openssl", a, { cwd: dir });
  o("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-subj", "/CN=depot-ca", "-days", "2");
  fs.writeFileSync(path.join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  o("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=depot");
  o("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext");
  return { ca: fs.readFileSync(path.join(dir, "ca.pem"), "utf8"), cert: path.join(dir, "server.pem"), key: path.join(dir, "server-key.pem") };
}

/** docker-registry over TLS only (as the depot); `ca` is what a node must trust (NODE_DEPOT_CA). */
export async function startRegistry(dir: string, port: number) {
  fs.mkdirSync(dir, { recursive: true });
  const pki = depotPki(path.join(dir, "pki"));
  const cfg = path.join(dir, "config.yml");
  fs.writeFileSync(
    cfg,
    `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n  tls:\n    certificate: ${pki.cert}\n    key: ${pki.key}\n`,
  );
  const log = fs.openSync(path.join(dir, "registry.log"), "a");
  const proc = spawn("docker-registry", ["serve", cfg], { stdio: ["ignore", log, log] });
  const base = `https://127.0.0.1:${port}`;
  await waitFor("registry", async () => (await fetch(`${base}/v2/`, { tls: { ca: pki.ca } } as RequestInit)).ok);
  return { proc, host: `127.0.0.1:${port}`, base, ca: pki.ca };
}

const digest = (b: string) => "sha256:" + createHash("sha256").update(b).digest("hex");

async function pushBlob(base: string, name: string, data: string, ca: string) {
  const d = digest(data);
  const start = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: "POST", tls: { ca } } as RequestInit);
  if (start.status !== 202) throw new Error(`blob upload start ${name}: ${start.status}`);
  const loc = new URL(start.headers.get("location")!, base);
  loc.searchParams.set("digest", d);
  const put = await fetch(loc, { method: "PUT", body: data, headers: { "content-type": "application/octet-stream" }, tls: { ca } } as RequestInit);
  if (put.status !== 201) throw new Error(`blob upload ${name}: ${put.status} ${await put.text()}`);
  return { digest: d, size: Buffer.byteLength(data) };
}

/** Push a minimal OCI image (one config, one layer) as registry/<path>:<tag>. */
export async function pushImage(registry: { base: string; ca: string }, image: string) {
  const { base, ca } = registry;
  const [, rest] = image.split(/\/(.*)/s);
  const at = rest!.lastIndexOf(":");
  const name = rest!.slice(0, at), tag = rest!.slice(at + 1);
  const config = await pushBlob(base, name, JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }), ca);
  const layer = await pushBlob(base, name, `layer of ${image}`, ca);
  const manifest = JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
  });
  const r = await fetch(`${base}/v2/${name}/manifests/${tag}`, { method: "PUT", body: manifest, headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" }, tls: { ca } } as RequestInit);
  if (r.status !== 201) throw new Error(`manifest ${image}: ${r.status} ${await r.text()}`);
}

/** Build the stand-in once and lay it out as layout.sh does: kubeadm/kubectl/kubelet symlinks (dispatch by argv[0]). */
export function buildStandin(dir: string, version = "v1.22.2") {
  const bin = path.join(dir, "kube-standin");
  sh(path.join(HERE, "build.sh"), [bin], { env: { KUBE_STANDIN_VERSION: version } });
  for (const t of ["kubeadm", "kubectl", "kubelet"]) fs.symlinkSync("kube-standin", path.join(dir, t));
  return dir;
}

export interface RunResult { code: number; stdout: string; stderr: string; out: string }

export class TestNode {
  /** `prepared`: the kernel settings node preparation makes (ip_forward, bridge-nf-call-iptables, no swap). */
  constructor(readonly name: string, readonly root: string, readonly bin: string, prepared = true) {
    fs.mkdirSync(root, { recursive: true });
    if (!prepared) return;
    this.write("/proc/sys/net/ipv4/ip_forward", "1\n");
    this.write("/proc/sys/net/bridge/bridge-nf-call-iptables", "1\n");
    this.write("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
  }
  env() {
    return { KUBE_STANDIN_ROOT: this.root, KUBE_STANDIN_HOSTNAME: this.name, KUBE_STANDIN_SUPERVISOR: "self" };
  }
  async run(tool: "kubeadm" | "kubectl", args: string[]): Promise<RunResult> {
    const p = Bun.spawn([path.join(this.bin, tool), ...args], { env: { ...process.env, ...this.env() }, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
    const code = await p.exited;
    return { code, stdout, stderr, out: stdout + stderr };
  }
  path(p: string) {
    return path.join(this.root, p);
  }
  write(p: string, text: string) {
    fs.mkdirSync(path.dirname(this.path(p)), { recursive: true });
    fs.writeFileSync(this.path(p), text);
  }
  read(p: string) {
    return fs.readFileSync(this.path(p), "utf8");
  }
  records(): any[] {
    return readRecords(this.path("/var/log/kube-standin/records.jsonl"));
  }
  /** Stop what the stand-in started on this node (kubelet, apiserver) by their pid files. */
  stop() {
    for (const n of ["kubelet", "kube-apiserver"]) {
      const f = this.path(`/var/run/kube-standin/${n}.pid`);
      if (!fs.existsSync(f)) continue;
      try {
        process.kill(Number(fs.readFileSync(f, "utf8")), "SIGTERM");
      } catch {}
    }
  }
}

export function stopProc(p: ChildProcess | undefined) {
  if (p && p.exitCode === null) p.kill("SIGTERM");
}

/** The etcd client files at /etc/etcd/pki on a node, and the ClusterConfiguration block that names them. */
export function externalEtcd(n: TestNode, etcd: { url: string; pki: { ca: string; cert: string; key: string } }): string {
  for (const [src, dst] of [[etcd.pki.ca, "ca.pem"], [etcd.pki.cert, "client.pem"], [etcd.pki.key, "client-key.pem"]]) n.write(`/etc/etcd/pki/${dst}`, fs.readFileSync(src!, "utf8"));
  return `etcd:
  external:
    endpoints: [${etcd.url}]
    caFile: /etc/etcd/pki/ca.pem
    certFile: /etc/etcd/pki/client.pem
    keyFile: /etc/etcd/pki/client-key.pem
`;
}

/** afterAll of a test file: the nodes' kubelets and apiservers, etcd and the registry stopped, the directory removed. */
export async function teardown(dir: string, nodes: (TestNode | undefined)[], procs: (ChildProcess | undefined)[]) {
  for (const n of nodes) n?.stop();
  for (const p of procs) stopProc(p);
  await Bun.sleep(500);
  fs.rmSync(dir, { recursive: true, force: true });
}

export const tmpdir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));
