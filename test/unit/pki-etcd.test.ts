// The etcd PKI plan: which files land where, that a re-run keeps them, when they are renewed,
// and that a real etcd (Debian's etcd-server) and curl accept them over TLS with client-cert auth.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { etcdCaStatePaths, etcdPkiSources, planEtcdPki, reviewEtcdPki, type EtcdPkiPlan, type ExistingEtcdPki, type PlanOptions } from "../../src/pki/index.ts";
import type { ClusterConfig } from "../../src/config/types.ts";
import { labCluster } from "./support/cluster-fixture.ts";
import { must, run, tempFiles } from "./support/openssl.ts";

// RSA key generation is CPU-bound: generous guards so a loaded CI machine does not fail the run.
setDefaultTimeout(60_000);

const DAY = 86_400_000;
const config = labCluster("/var/lib/k8s-ha-offline");
const state = etcdCaStatePaths(config.stateDir);
const first = await planEtcdPki(config);

const fileOf = (plan: EtcdPkiPlan, node: string, path: string) => plan.files.find((f) => f.node === node && f.path === path)?.content;

/** What the etcd phase does before planning: read the CA from the state dir and each leaf from its source. */
function existingFrom(plan: EtcdPkiPlan, cfg: ClusterConfig): ExistingEtcdPki {
  const m1 = cfg.hosts[0]!.name;
  return {
    ca: { certPem: fileOf(plan, m1, state.cert), keyPem: fileOf(plan, m1, state.key) },
    leaves: Object.fromEntries(
      etcdPkiSources(cfg).map((s) => [s.id, { certPem: fileOf(plan, s.node, s.certPath), keyPem: fileOf(plan, s.node, s.keyPath) }]),
    ),
  };
}

const files = tempFiles();
afterAll(() => files.remove());
const caPath = files.put("ca.crt", first.caCertPem);
const verifyLeaf = (pem: string, ...args: string[]) => run(["openssl", "verify", "-CAfile", caPath, ...args, files.put("leaf.crt", pem)]);

describe("planEtcdPki on a fresh cluster", () => {
  test("puts CA, server, peer and healthcheck certs on every member and the kubeadm client files on every master", () => {
    const perMember = ["ca.crt", "server.crt", "server.key", "peer.crt", "peer.key", "healthcheck-client.crt", "healthcheck-client.key"].map(
      (f) => `/etc/etcd/pki/${f}`,
    );
    const perMaster = ["/etc/kubernetes/pki/etcd/ca.crt", "/etc/kubernetes/pki/apiserver-etcd-client.crt", "/etc/kubernetes/pki/apiserver-etcd-client.key"];
    const stateFiles = [state.cert, state.key, state.backupCert, state.backupKey];
    const expected = [
      ...stateFiles.map((p) => `master1:${p}`),
      ...["master1", "master2", "master3"].flatMap((n) => [...perMember, ...perMaster].map((p) => `${n}:${p}`)),
    ].sort();
    expect(first.files.map((f) => `${f.node}:${f.path}`).sort()).toEqual(expected);
    expect(first.files.filter((f) => f.node === "node1")).toEqual([]);
    expect(first.actions.every((a) => a.action === "issued" && a.why === "missing")).toBe(true);
    expect(first.changed).toBe(true);
  });

  test("keys are 0600 and certificates 0644; the CA key exists only in master1's state dir and its backup", () => {
    for (const f of first.files) expect([f.path, f.mode]).toEqual([f.path, f.path.endsWith(".key") ? 0o600 : 0o644]);
    const caKey = fileOf(first, "master1", state.key)!;
    expect(caKey).toContain("BEGIN PRIVATE KEY");
    expect(first.files.filter((f) => f.content === caKey).map((f) => f.path).sort()).toEqual([state.backupKey, state.key].sort());
    expect(first.files.filter((f) => f.state).every((f) => f.node === "master1" && f.path.startsWith(config.stateDir))).toBe(true);
  });

  test("every member's server cert carries its name, address and loopback; peers their name and address; openssl agrees", () => {
    for (const h of config.hosts.slice(0, 3)) {
      const serverPem = fileOf(first, h.name, "/etc/etcd/pki/server.crt")!;
      const peerPem = fileOf(first, h.name, "/etc/etcd/pki/peer.crt")!;
      for (const purpose of ["sslserver", "sslclient"]) {
        expect(verifyLeaf(serverPem, "-purpose", purpose).code).toBe(0);
        expect(verifyLeaf(peerPem, "-purpose", purpose).code).toBe(0);
      }
      for (const ip of [h.address, "127.0.0.1", "::1"]) expect(verifyLeaf(serverPem, "-verify_ip", ip).code).toBe(0);
      for (const name of [h.name, "localhost"]) expect(verifyLeaf(serverPem, "-verify_hostname", name).code).toBe(0);
      expect(verifyLeaf(peerPem, "-verify_ip", h.address).code).toBe(0);
      expect(verifyLeaf(peerPem, "-verify_hostname", h.name).code).toBe(0);
      expect(verifyLeaf(serverPem, "-verify_ip", "10.77.0.21").code).not.toBe(0);
    }
  });

  test("the apiserver and healthcheck clients are client-only certificates in system:masters", () => {
    const api = fileOf(first, "master2", "/etc/kubernetes/pki/apiserver-etcd-client.crt")!;
    const hc = fileOf(first, "master3", "/etc/etcd/pki/healthcheck-client.crt")!;
    for (const [pem, cn] of [[api, "kube-apiserver-etcd-client"], [hc, "kube-etcd-healthcheck-client"]] as const) {
      expect(verifyLeaf(pem, "-purpose", "sslclient").code).toBe(0);
      expect(verifyLeaf(pem, "-purpose", "sslserver").code).not.toBe(0);
      expect(must(["openssl", "x509", "-noout", "-subject"], pem).trim()).toBe(`subject=CN = ${cn}, O = system:masters`);
    }
    // The same client pair on every master, so any apiserver can reach etcd.
    expect(fileOf(first, "master1", "/etc/kubernetes/pki/apiserver-etcd-client.key")).toBe(fileOf(first, "master3", "/etc/kubernetes/pki/apiserver-etcd-client.key")!);
  });
});

describe("planEtcdPki on a re-run", () => {
  test("keeps every file byte for byte when nothing changed", async () => {
    const again = await planEtcdPki(config, existingFrom(first, config));
    expect(again.changed).toBe(false);
    expect(again.actions.every((a) => a.action === "kept")).toBe(true);
    expect(again.files).toEqual(first.files);
  });

  test("reissues only the server and peer certs of a member whose address changed", async () => {
    const moved = labCluster(config.stateDir);
    moved.hosts[1]!.address = "10.77.0.42";
    const plan = await planEtcdPki(moved, existingFrom(first, moved));
    const issued = plan.actions.filter((a) => a.action === "issued");
    expect(issued).toEqual([
      { id: "server/master2", action: "issued", why: "SANs lack 10.77.0.42" },
      { id: "peer/master2", action: "issued", why: "SANs lack 10.77.0.42" },
    ]);
    expect(verifyLeaf(fileOf(plan, "master2", "/etc/etcd/pki/server.crt")!, "-verify_ip", "10.77.0.42").code).toBe(0);
    expect(fileOf(plan, "master1", "/etc/etcd/pki/server.crt")).toBe(fileOf(first, "master1", "/etc/etcd/pki/server.crt")!);
  });

  test("renews every leaf within 30 days of expiry but keeps the CA", async () => {
    const plan = await planEtcdPki(config, existingFrom(first, config), { now: new Date(Date.now() + 340 * DAY) });
    expect(plan.actions[0]).toEqual({ id: "ca", action: "kept" });
    const leaves = plan.actions.slice(1);
    expect(leaves.length).toBe(8);
    for (const a of leaves) expect(a).toEqual({ id: a.id, action: "issued", why: "expires in 24 days (renewed within 30)" });
  });

  test("replaces a lost key, a certificate from another CA and one copied to the wrong place", async () => {
    const existing = existingFrom(first, config);
    existing.leaves!["peer/master3"]!.keyPem = undefined;
    existing.leaves!["server/master2"] = (await planEtcdPki(config)).files
      .filter((f) => f.node === "master2" && f.path.startsWith("/etc/etcd/pki/server."))
      .reduce((pair, f) => ({ ...pair, [f.path.endsWith(".crt") ? "certPem" : "keyPem"]: f.content }), {});
    existing.leaves!["healthcheck-client"] = existing.leaves!["apiserver-etcd-client"];
    const plan = await planEtcdPki(config, existing);
    expect(plan.actions.filter((a) => a.action === "issued")).toEqual([
      { id: "server/master2", action: "issued", why: "not signed by the current CA" },
      { id: "peer/master3", action: "issued", why: "key missing" },
      { id: "healthcheck-client", action: "issued", why: 'common name is "kube-apiserver-etcd-client", want "kube-etcd-healthcheck-client"' },
    ]);
  });

  test("a lost CA state means a new CA and every leaf reissued; a CA without its key stops with what to do", async () => {
    const plan = await planEtcdPki(config, { leaves: existingFrom(first, config).leaves });
    expect(plan.caCertPem).not.toBe(first.caCertPem);
    expect(plan.actions.slice(1).every((a) => a.why === "not signed by the current CA")).toBe(true);
    await expect(planEtcdPki(config, { ca: { certPem: first.caCertPem } })).rejects.toThrow(
      `the etcd CA is incomplete: ${state.cert} exists but its partner does not`,
    );
  });

  test("renew: all reissues every leaf from the same CA (renew-certs --etcd)", async () => {
    const plan = await planEtcdPki(config, existingFrom(first, config), { renew: "all" });
    expect(plan.caCertPem).toBe(first.caCertPem);
    expect(plan.actions.slice(1).map((a) => a.why)).toEqual(Array(8).fill("renewal requested"));
    expect(fileOf(plan, "master1", "/etc/etcd/pki/server.crt")).not.toBe(fileOf(first, "master1", "/etc/etcd/pki/server.crt")!);
    expect(verifyLeaf(fileOf(plan, "master1", "/etc/etcd/pki/server.crt")!).code).toBe(0);
  });

  test("reviewEtcdPki predicts planEtcdPki's actions without generating keys", async () => {
    const moved = labCluster(config.stateDir);
    moved.hosts[2]!.address = "10.77.0.43";
    const lostCa: ExistingEtcdPki = { leaves: existingFrom(first, config).leaves };
    const cases: [ClusterConfig, ExistingEtcdPki, PlanOptions][] = [
      [config, {}, {}],
      [config, existingFrom(first, config), {}],
      [moved, existingFrom(first, moved), {}],
      [config, existingFrom(first, config), { now: new Date(Date.now() + 340 * DAY) }],
      [config, lostCa, {}],
    ];
    for (const [cfg, existing, opts] of cases) {
      expect(reviewEtcdPki(cfg, existing, opts)).toEqual((await planEtcdPki(cfg, existing, opts)).actions);
    }
    expect(() => reviewEtcdPki(config, { ca: { keyPem: "x" } })).toThrow(`the etcd CA is incomplete: ${state.key} exists`);
  });

  test("a cluster without etcd members is refused with the config file named", async () => {
    const none = labCluster();
    for (const h of none.hosts) h.roles = h.roles.filter((r) => r !== "etcd");
    await expect(planEtcdPki(none)).rejects.toThrow("test/cluster.yaml: no host has the role etcd");
  });
});

const etcdAvailable = run(["sh", "-c", "command -v etcd && command -v curl"]).code === 0;

describe.skipIf(!etcdAvailable)("a real etcd with the planned files", () => {
  // Unix sockets instead of TCP ports: nothing is bound on the network, TLS and client-cert auth are the same.
  test("serves clients holding the apiserver or healthcheck cert and refuses others", async () => {
    const dir = files.dir;
    for (const f of first.files.filter((f) => f.node === "master1")) {
      const p = join(dir, "fs", f.path);
      mkdirSync(join(p, ".."), { recursive: true });
      writeFileSync(p, f.content, { mode: f.mode });
    }
    const pki = join(dir, "fs/etc/etcd/pki");
    const kpki = join(dir, "fs/etc/kubernetes/pki");
    const etcd = Bun.spawn(
      [
        "etcd", "--name", "master1", "--data-dir", join(dir, "data"),
        "--listen-client-urls", "unixs://localhost:2379", "--advertise-client-urls", "unixs://localhost:2379",
        "--listen-peer-urls", "unixs://localhost:2380", "--initial-advertise-peer-urls", "unixs://localhost:2380",
        "--initial-cluster", "master1=unixs://localhost:2380",
        "--cert-file", `${pki}/server.crt`, "--key-file", `${pki}/server.key`, "--trusted-ca-file", `${pki}/ca.crt`, "--client-cert-auth",
        "--peer-cert-file", `${pki}/peer.crt`, "--peer-key-file", `${pki}/peer.key`, "--peer-trusted-ca-file", `${pki}/ca.crt`, "--peer-client-cert-auth",
      ],
      { cwd: dir, stdout: "ignore", stderr: "pipe" },
    );
    const curl = (...args: string[]) =>
      run(["curl", "-sS", "--max-time", "5", "--unix-socket", join(dir, "localhost:2379"), "--cacert", `${kpki}/etcd/ca.crt`, ...args]);
    const apiCert = ["--cert", `${kpki}/apiserver-etcd-client.crt`, "--key", `${kpki}/apiserver-etcd-client.key`];
    try {
      let health = curl(...apiCert, "https://localhost/health");
      for (let i = 0; i < 300 && !health.out.includes('"health":"true"'); i++) {
        await Bun.sleep(100);
        health = curl(...apiCert, "https://localhost/health");
      }
      expect(health.out).toContain('"health":"true"');
      const put = curl(...apiCert, "-X", "POST", "-d", JSON.stringify({ key: btoa("k"), value: btoa("v") }), "https://localhost/v3/kv/put");
      expect(put.out).toContain('"revision"');
      const hc = curl("--cert", `${pki}/healthcheck-client.crt`, "--key", `${pki}/healthcheck-client.key`, "https://localhost/health");
      expect(hc.out).toContain('"health":"true"');
      expect(curl("https://localhost/health").code).not.toBe(0);
      const stranger = tempFiles();
      try {
        must(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=stranger", "-days", "1", "-keyout", stranger.path("s.key"), "-out", stranger.path("s.crt")]);
        expect(curl("--cert", stranger.path("s.crt"), "--key", stranger.path("s.key"), "https://localhost/health").code).not.toBe(0);
      } finally {
        stranger.remove();
      }
    } finally {
      etcd.kill();
      await etcd.exited;
    }
  });
});
