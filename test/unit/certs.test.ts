// check-certs over fake nodes: a kubeadm + external-etcd layout written to temp dirs (real files,
// real certificates from src/pki) and read through DirHost, then broken one way at a time.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { parse as parseYaml } from "yaml";
import { createCa, issueCert, loadCa } from "../../src/pki/index.ts";
import { runCheckCerts, type CertReport, type CertRow } from "../../src/certs/index.ts";
import { HostError } from "../../src/hosts/host.ts";
import { labCluster } from "./support/cluster-fixture.ts";
import { DirHost } from "./support/dir-host.ts";
import { kubeadmLayout, kubeconfig as kubeconfigFor, pair, type Layout } from "./support/kubeadm-layout.ts";
import { must } from "./support/openssl.ts";

// RSA key generation is CPU-bound: generous guards so a loaded CI machine does not fail the run.
setDefaultTimeout(60_000);

const DAY = 86_400_000;
const config = labCluster();
const kubeconfig = (user: string, ca: string, cert: Parameters<typeof kubeconfigFor>[3]) => kubeconfigFor(config, user, ca, cert);
const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

/** Writes a layout under a fresh temp dir and returns a connected DirHost per node of the config. */
function materialise(layout: Layout): DirHost[] {
  const root = mkdtempSync(join(tmpdir(), "certs-test-"));
  roots.push(root);
  return config.hosts
    .filter((h) => h.roles.includes("control-plane") || h.roles.includes("etcd"))
    .map((h) => {
      const host = new DirHost(join(root, h.name), h.name, h.address);
      for (const [path, content] of Object.entries(layout[h.name] ?? {})) {
        mkdirSync(dirname(host.local(path)), { recursive: true });
        writeFileSync(host.local(path), content, { mode: path.endsWith(".key") ? 0o600 : 0o644 });
      }
      return host;
    });
}

const clone = (l: Layout): Layout => Object.fromEntries(Object.entries(l).map(([n, f]) => [n, { ...f }]));

async function check(layout: Layout, warnDays = 30) {
  const hosts = materialise(layout);
  const { text, exitCode } = await runCheckCerts({ hosts, config, warnDays, output: "json" });
  const report = JSON.parse(text) as CertReport;
  expect(report.exitCode).toBe(exitCode);
  const row = (node: string, certificate: string) => {
    const r = report.certificates.find((c) => c.node === node && c.certificate === certificate);
    if (!r) throw new Error(`no row for ${node} ${certificate}`);
    return r;
  };
  const notOk = report.certificates.filter((r) => r.status !== "ok").map((r) => `${r.node} ${r.certificate} ${r.status}`);
  return { report, exitCode, row, notOk, hosts };
}

let base: Awaited<ReturnType<typeof kubeadmLayout>>;
beforeAll(async () => {
  base = await kubeadmLayout(config);
}, 60_000);

/** Every file check-certs must list on a node, from the fake filesystem itself. */
function certFilesOnDisk(host: DirHost): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [`/${relative(host.root, join(dir, n))}`]));
  return walk(host.root)
    .filter((p) => p.endsWith(".crt") || p.endsWith(".conf"))
    .map((p) => (p === "/etc/kubernetes/kubelet.conf" ? `${p} -> /var/lib/kubelet/pki/kubelet-client-current.pem` : p))
    .sort();
}

describe("check-certs on a healthy cluster", () => {
  test("lists every certificate file and kubeconfig of every node, all ok, exit 0, one command per node", async () => {
    const { report, exitCode, notOk, hosts } = await check(base.layout);
    expect(notOk).toEqual([]);
    expect(exitCode).toBe(0);
    for (const h of hosts) {
      const listed = report.certificates.filter((r) => r.node === h.name).map((r) => r.certificate).sort();
      expect(listed).toEqual(certFilesOnDisk(h));
      expect(listed.length).toBe(16);
      expect(h.commands.length).toBe(1);
    }
    expect(report.certificates.length).toBe(48);
  });

  test("names the CA of each certificate and agrees with openssl on the expiry", async () => {
    const { row } = await check(base.layout);
    expect(row("master1", "/etc/kubernetes/pki/apiserver.crt").ca).toBe("/etc/kubernetes/pki/ca.crt");
    expect(row("master1", "/etc/kubernetes/pki/front-proxy-client.crt").ca).toBe("/etc/kubernetes/pki/front-proxy-ca.crt");
    expect(row("master2", "/etc/kubernetes/pki/apiserver-etcd-client.crt").ca).toBe("/etc/kubernetes/pki/etcd/ca.crt");
    expect(row("master3", "/etc/etcd/pki/peer.crt").ca).toBe("/etc/etcd/pki/ca.crt");
    expect(row("master1", "/etc/kubernetes/pki/ca.crt").ca).toBe("self-signed");
    expect(row("master1", "/var/lib/kubelet/pki/kubelet.crt").ca).toBe("/var/lib/kubelet/pki/kubelet.crt (CA 2 in the file)");
    const admin = row("master1", "/etc/kubernetes/admin.conf");
    expect(admin.subject).toBe("CN=kubernetes-admin, O=kubeadm:cluster-admins");
    const end = must(["openssl", "x509", "-noout", "-enddate"], base.layout.master1!["/etc/kubernetes/pki/apiserver.crt"]!).trim().slice(9);
    expect(row("master1", "/etc/kubernetes/pki/apiserver.crt").notAfter).toBe(new Date(end).toISOString());
    expect(row("master1", "/etc/kubernetes/pki/apiserver.crt").residualDays).toBe(364);
  });

  test("the table is sorted by residual time and ends with a summary; YAML carries the same rows", async () => {
    const hosts = materialise(base.layout);
    const table = await runCheckCerts({ hosts, config, output: "table" });
    const lines = table.text.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NODE +CERTIFICATE +SUBJECT +EXPIRES \(UTC\) +RESIDUAL +ISSUER\/CA +STATUS$/);
    const residual = lines.slice(1, 49).map((l) => Number(/ (-?\d+)d /.exec(l)![1]));
    expect(residual).toEqual([...residual].sort((a, b) => a - b));
    expect(lines.at(-1)).toBe("48 certificates on 3 nodes: 48 ok, 0 expiring within 30 days, 0 expired, 0 broken.");
    const yaml = parseYaml((await runCheckCerts({ hosts, config, output: "yaml" })).text) as CertReport;
    const json = JSON.parse((await runCheckCerts({ hosts, config, output: "json" })).text) as CertReport;
    expect(yaml.certificates.map((r) => [r.node, r.certificate, r.status])).toEqual(json.certificates.map((r) => [r.node, r.certificate, r.status]));
  });
});

describe("check-certs finds", () => {
  const issue = (ca: typeof base.k8sCa, cn: string, days: number, shiftDays = 0, sans?: string[]) =>
    issueCert(ca, { commonName: cn, usages: ["client", "server"], validityDays: days, now: new Date(Date.now() + shiftDays * DAY), sans });

  test("a certificate expiring in 10 days: warn, exit 1", async () => {
    const l = clone(base.layout);
    pair(l.master2!, "/etc/kubernetes/pki/front-proxy-client", await issue(base.fpCa, "front-proxy-client", 10));
    const { row, exitCode, notOk } = await check(l);
    expect(notOk).toEqual(["master2 /etc/kubernetes/pki/front-proxy-client.crt warn"]);
    expect(row("master2", "/etc/kubernetes/pki/front-proxy-client.crt").residualDays).toBe(9);
    expect(exitCode).toBe(1);
    // The same certificate is fine for someone who warns only 5 days ahead.
    expect((await check(l, 5)).exitCode).toBe(0);
  });

  test("a kubeconfig client certificate that expired yesterday: expired, exit 2", async () => {
    const l = clone(base.layout);
    const old = await issue(base.k8sCa, "system:kube-scheduler", 365, -366);
    l.master3!["/etc/kubernetes/scheduler.conf"] = kubeconfig("system:kube-scheduler", base.k8sCaPair.certPem, old);
    const { row, exitCode, notOk } = await check(l);
    expect(notOk).toEqual(["master3 /etc/kubernetes/scheduler.conf expired"]);
    expect(row("master3", "/etc/kubernetes/scheduler.conf").residualDays).toBe(-1);
    expect(exitCode).toBe(4); // expired or broken (2 is bad usage)
  });

  test("a certificate signed by another CA of the same name: broken", async () => {
    const l = clone(base.layout);
    const impostor = await loadCa(await createCa({ commonName: "kubernetes" }), "other");
    pair(l.master2!, "/etc/kubernetes/pki/apiserver-kubelet-client", await issue(impostor, "apiserver-kubelet-client", 365));
    const { row, exitCode, notOk } = await check(l);
    expect(notOk).toEqual(["master2 /etc/kubernetes/pki/apiserver-kubelet-client.crt broken"]);
    expect(row("master2", "/etc/kubernetes/pki/apiserver-kubelet-client.crt").problems).toEqual([
      "not signed by /etc/kubernetes/pki/ca.crt (issuer CN=kubernetes)",
    ]);
    expect(exitCode).toBe(4); // expired or broken (2 is bad usage)
  });

  test("a key that does not match its certificate, in a .key file and in a kubeconfig: broken", async () => {
    const l = clone(base.layout);
    const stranger = await issue(base.k8sCa, "x", 365);
    l.master3!["/etc/kubernetes/pki/apiserver-etcd-client.key"] = stranger.keyPem;
    l.master1!["/etc/kubernetes/admin.conf"] = l.master1!["/etc/kubernetes/admin.conf"]!.replace(/client-key-data: .*/, `client-key-data: ${btoa(stranger.keyPem)}`);
    const { row, notOk, exitCode } = await check(l);
    expect(notOk.sort()).toEqual(["master1 /etc/kubernetes/admin.conf broken", "master3 /etc/kubernetes/pki/apiserver-etcd-client.crt broken"]);
    expect(row("master3", "/etc/kubernetes/pki/apiserver-etcd-client.crt").problems).toEqual([
      "key /etc/kubernetes/pki/apiserver-etcd-client.key does not match the certificate",
    ]);
    expect(row("master1", "/etc/kubernetes/admin.conf").problems).toEqual([
      "key /etc/kubernetes/admin.conf (client-key-data) does not match the certificate",
    ]);
    expect(exitCode).toBe(4); // expired or broken (2 is bad usage)
  });

  test("an apiserver certificate without the VIP, an etcd server certificate without its address: broken", async () => {
    const l = clone(base.layout);
    pair(l.master2!, "/etc/kubernetes/pki/apiserver", await issue(base.k8sCa, "kube-apiserver", 365, 0, ["master2", "10.77.0.12", "10.96.0.1"]));
    pair(l.master3!, "/etc/etcd/pki/server", await issue(base.etcdCa, "master3", 365, 0, ["master3", "localhost", "127.0.0.1"]));
    const { row, notOk, exitCode } = await check(l);
    expect(notOk).toEqual(["master2 /etc/kubernetes/pki/apiserver.crt broken", "master3 /etc/etcd/pki/server.crt broken"]);
    expect(row("master2", "/etc/kubernetes/pki/apiserver.crt").problems).toEqual(["SANs lack 10.77.0.100 (the VIP)"]);
    expect(row("master3", "/etc/etcd/pki/server.crt").problems).toEqual(["SANs lack 10.77.0.13 (this node's address)"]);
    expect(exitCode).toBe(4); // expired or broken (2 is bad usage)
  });

  test("a CA that differs between masters: the odd one out is broken, and so is what it cannot verify", async () => {
    const l = clone(base.layout);
    pair(l.master3!, "/etc/kubernetes/pki/front-proxy-ca", await createCa({ commonName: "front-proxy-ca" }));
    const { row, notOk } = await check(l);
    expect(notOk).toEqual(["master3 /etc/kubernetes/pki/front-proxy-client.crt broken", "master3 /etc/kubernetes/pki/front-proxy-ca.crt broken"]);
    expect(row("master3", "/etc/kubernetes/pki/front-proxy-ca.crt").problems[0]).toStartWith("front-proxy CA differs from the one on master1, master2 (sha256 ");
  });

  test("the etcd CA is compared across both places it lives", async () => {
    const l = clone(base.layout);
    l.master2!["/etc/kubernetes/pki/etcd/ca.crt"] = base.k8sCaPair.certPem;
    const { row, notOk } = await check(l);
    expect(notOk).toEqual(["master2 /etc/kubernetes/pki/apiserver-etcd-client.crt broken", "master2 /etc/kubernetes/pki/etcd/ca.crt broken"]);
    expect(row("master2", "/etc/kubernetes/pki/etcd/ca.crt").problems[0]).toStartWith("etcd CA differs from the one on master1, master2, master3 (sha256 ");
  });

  test("an unreadable certificate file and a kubeconfig pointing at a missing file: broken, with why", async () => {
    const l = clone(base.layout);
    l.master1!["/etc/kubernetes/pki/garbage.crt"] = "-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n";
    l.master1!["/etc/kubernetes/controller-manager.conf"] = kubeconfig("cm", base.k8sCaPair.certPem, { certPath: "/nowhere/cm.crt", keyPath: "/nowhere/cm.key" });
    const { row, notOk } = await check(l);
    expect(notOk).toEqual(["master1 /etc/kubernetes/controller-manager.conf -> /nowhere/cm.crt broken", "master1 /etc/kubernetes/pki/garbage.crt broken"]);
    expect(row("master1", "/etc/kubernetes/pki/garbage.crt").problems[0]).toStartWith("unreadable certificate: ");
    expect(row("master1", "/etc/kubernetes/controller-manager.conf -> /nowhere/cm.crt").problems).toEqual(["client-certificate /nowhere/cm.crt does not exist"]);
  });

  test("a DER-encoded certificate file is read like PEM (the dump is binary-safe)", async () => {
    const hosts = materialise(base.layout);
    const der = Bun.spawnSync(["openssl", "x509", "-outform", "der"], { stdin: Buffer.from(base.layout.master1!["/etc/kubernetes/pki/apiserver.crt"]!) }).stdout;
    expect(der[0]).toBe(0x30);
    writeFileSync(hosts[0]!.local("/etc/kubernetes/pki/extra-der.crt"), der);
    const { text } = await runCheckCerts({ hosts, config, output: "json" });
    const extra = (JSON.parse(text) as CertReport).certificates.find((r) => r.certificate === "/etc/kubernetes/pki/extra-der.crt");
    expect(extra).toMatchObject({ node: "master1", subject: "CN=kube-apiserver", status: "ok", ca: "/etc/kubernetes/pki/ca.crt" });
  });

  test("a node that cannot be read is one unreachable row naming the error, exit 3 (could not check)", async () => {
    class Unreachable extends DirHost {
      override async exec(): Promise<never> {
        throw new HostError(this.name, "connection lost");
      }
    }
    const hosts = materialise(base.layout);
    hosts[2] = new Unreachable(hosts[2]!.root, "master3", "10.77.0.13");
    const { text, exitCode } = await runCheckCerts({ hosts, config, output: "json" });
    const rows = (JSON.parse(text) as CertReport).certificates.filter((r: CertRow) => r.node === "master3");
    expect(rows.map((r) => [r.certificate, r.status, r.problems])).toEqual([["(node)", "unreachable", ["cannot read the certificates: master3: connection lost"]]]);
    expect(exitCode).toBe(3);
  });
});
