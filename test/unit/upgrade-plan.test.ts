// upgrade plan: every refusal with its exit code (2: what the operator brought, 1: the cluster's state),
// what changes where and in which order, and "nothing to do" once the cluster runs the bundle.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { seedConfig } from "./support/seed-config.ts";
import { batches, planUpgrade, refusalCode, renderPlan, type UpgradeFacts } from "../../src/ops/upgrade/plan.ts";
import { keepPreviousCopy, PREVIOUS_BUNDLE_DIR, rewriteConfig } from "../../src/ops/upgrade/apply.ts";
import { serializeLock, type BundleLock, type LockFile } from "../../src/depot/lock.ts";
import { DEPOT_BUNDLE_DIR } from "../../src/depot/bundle-copy.ts";
import type { PhaseContext } from "../../src/phases/phase.ts";
import { DirHost } from "./support/dir-host.ts";

const config = seedConfig([[/profile: el7-k8s1\.22/, "profile: debian12"]]);
const sha = (c: string) => c.repeat(64);
const file = (path: string, s: string, kind: LockFile["kind"] = "file"): LockFile => ({ path, size: 10, sha256: sha(s), kind });

function lock(version: string, o: { profile?: string; etcd?: string; runtime?: string; kube?: string } = {}): BundleLock {
  return {
    profile: o.profile ?? "debian12",
    kubernetesVersion: version,
    created: "2026-12-01T00:00:00Z",
    files: [
      file("files/etcd-v3.4.23-linux-amd64.tar.gz", o.etcd ?? "a"),
      file("files/containerd-1.6.20-linux-amd64.tar.gz", o.runtime ?? "b"),
      file("files/kubernetes-node-linux-amd64.tar.gz", o.kube ?? version.replace(/\D/g, "").slice(-1)),
      file("repo/debian12/haproxy_2.6.12_amd64.deb", "d", "deb"),
      file("images/x.tar", version.slice(-1), "image"),
    ],
    images: [{ ref: `registry.k8s.io/kube-apiserver:v${version}`, digest: `sha256:${sha(version.slice(-1))}`, file: "images/x.tar" }],
  };
}

const A = lock("1.22.2");
const B = lock("1.23.17");
const kubeNodes = (v: string) => config.hosts.map((h) => ({ name: h.name, ready: true, kubelet: v }));

function facts(over: Partial<UpgradeFacts> = {}): UpgradeFacts {
  return {
    config, bundleLock: B, bundleDir: "/root/bundle-debian12-1.23", embedded: B, bundleProblems: [], currentLock: A,
    clusterVersion: "v1.22.2", nodes: kubeNodes("v1.22.2"), etcd: config.hosts.filter((h) => h.roles.includes("etcd")).map((h) => ({ member: h.name, healthy: true })),
    expiring: [], windowDays: 7, ...over,
  };
}
const codeOf = (f: UpgradeFacts) => refusalCode(planUpgrade(f).refusals);
const whats = (f: UpgradeFacts) => planUpgrade(f).refusals.map((r) => r.what).join("\n");

describe("refusals, each before any change", () => {
  test("a healthy 1.22.2 cluster and a verified 1.23.17 bundle: no refusal", () => {
    const p = planUpgrade(facts());
    expect(p.refusals).toEqual([]);
    expect(p.from).toBe("v1.22.2");
    expect(p.to).toBe("v1.23.17");
    expect(p.nothingToDo).toBe(false);
  });
  test("skipping a minor (a 1.24 bundle) is exit 2", () => {
    const C = lock("1.24.0");
    expect(codeOf(facts({ bundleLock: C, embedded: C }))).toBe(2);
    expect(whats(facts({ bundleLock: C, embedded: C }))).toContain("skipping a minor version is not supported");
  });
  test("a downgrade is exit 2", () => {
    expect(codeOf(facts({ bundleLock: A, embedded: A, clusterVersion: "v1.23.17", nodes: kubeNodes("v1.23.17") }))).toBe(2);
    expect(whats(facts({ bundleLock: A, embedded: A, clusterVersion: "v1.23.17", nodes: kubeNodes("v1.23.17") }))).toContain("a downgrade is not supported");
  });
  test("a bundle of another profile is exit 2", () => {
    const E = lock("1.23.17", { profile: "el9" });
    expect(codeOf(facts({ bundleLock: E, embedded: E }))).toBe(2);
    expect(whats(facts({ bundleLock: E, embedded: E }))).toContain("is for profile el9, and the cluster (cluster.yaml) runs profile debian12");
  });
  test("a corrupted bundle, and a bundle that is not this binary's, are exit 2", () => {
    expect(codeOf(facts({ bundleProblems: ["files/kubernetes-node-linux-amd64.tar.gz: sha256 differs"] }))).toBe(2);
    expect(whats(facts({ bundleProblems: ["files/x: sha256 differs"] }))).toContain("fails verification against its lock (1 problem): files/x: sha256 differs");
    expect(codeOf(facts({ embedded: A }))).toBe(2);
    expect(whats(facts({ embedded: A }))).toContain("is not the one this binary was built with");
    expect(whats(facts({ embedded: null }))).toContain("carries no bundle lock");
  });
  test("an etcd member down, a node NotReady, certificates expiring in the window: exit 1", () => {
    const down = facts({ etcd: [{ member: "master1", healthy: true }, { member: "master2", healthy: false, why: "connection refused" }, { member: "master3", healthy: true }] });
    expect(codeOf(down)).toBe(1);
    expect(whats(down)).toContain("etcd is not healthy on every member (2/3): master2 (connection refused)");
    const notReady = facts({ nodes: kubeNodes("v1.22.2").map((n) => (n.name === "node1" ? { ...n, ready: false } : n)) });
    expect(codeOf(notReady)).toBe(1);
    expect(whats(notReady)).toContain("node not Ready: node1");
    const certs = facts({ expiring: [{ node: "master1", certificate: "/etc/etcd/pki/server.crt", residualDays: 3 }] });
    expect(codeOf(certs)).toBe(1);
    expect(whats(certs)).toContain("certificates expire within the 7-day upgrade window: master1:/etc/etcd/pki/server.crt (3 d)");
  });
  test("the API not answering is exit 1; a bad bundle together with it is exit 2", () => {
    expect(codeOf(facts({ clusterVersion: null, clusterError: "connection refused", nodes: [] }))).toBe(1);
    expect(codeOf(facts({ clusterVersion: null, nodes: [], bundleProblems: ["x"] }))).toBe(2);
  });
  test("a kubelet already newer than the bundle is refused", () => {
    const f = facts({ nodes: kubeNodes("v1.22.2").map((n) => (n.name === "node1" ? { ...n, kubelet: "v1.24.1" } : n)) });
    expect(whats(f)).toContain("kubelet newer than the bundle's v1.23.17 on node1 (v1.24.1)");
  });
});

describe("what changes where, in order", () => {
  test("Kubernetes on every kubelet node; the first master runs upgrade apply, the others upgrade node; etcd unchanged is not rolled", () => {
    const p = planUpgrade(facts());
    const text = renderPlan(p);
    expect(text).toContain("Upgrade v1.22.2 → v1.23.17");
    expect(p.nodes.find((n) => n.node === "master1")!.changes).toContain("kubeadm upgrade apply v1.23.17");
    expect(p.nodes.find((n) => n.node === "master2")!.changes).toContain("kubeadm upgrade node (control plane)");
    expect(p.nodes.find((n) => n.node === "node1")!.changes.join("; ")).toContain("drain, kubelet/kubectl v1.22.2 → v1.23.17, restart, uncordon");
    expect(p.order.join("\n")).not.toContain("etcd, one member at a time");
    expect(p.order.join("\n")).toContain("control planes one at a time: master1 → master2 → master3");
    expect(p.components.map((c) => c.name)).not.toContain("etcd");
  });
  test("a new etcd tarball is rolled member by member before the control planes", () => {
    const B2 = lock("1.23.17", { etcd: "e" });
    const p = planUpgrade(facts({ bundleLock: B2, embedded: B2 }));
    const i = p.order.findIndex((o) => o.startsWith("etcd, one member at a time"));
    expect(i).toBeGreaterThan(0);
    expect(i).toBeLessThan(p.order.findIndex((o) => o.startsWith("control planes")));
    expect(p.components.find((c) => c.name === "etcd")).toBeDefined();
  });
  test("workers go in batches of --max-unavailable", () => {
    expect(batches(["a", "b", "c", "d", "e"], 2)).toEqual([["a", "b"], ["c", "d"], ["e"]]);
    expect(planUpgrade(facts(), 3).workerBatches).toEqual([["node1"]]);
  });
  test("nothing to do once the cluster, every kubelet and the depot run the bundle", () => {
    const done = facts({ currentLock: B, clusterVersion: "v1.23.17", nodes: kubeNodes("v1.23.17") });
    expect(planUpgrade(done).nothingToDo).toBe(true);
    expect(renderPlan(planUpgrade(done))).toContain("nothing to do");
    // A node left cordoned by a killed run is not "nothing to do".
    expect(planUpgrade({ ...done, nodes: kubeNodes("v1.23.17").map((n) => ({ ...n, unschedulable: n.name === "node1" })) }).nothingToDo).toBe(false);
    // Same version but a kubelet still old: resume, not done.
    expect(planUpgrade({ ...done, nodes: kubeNodes("v1.23.17").map((n) => (n.name === "node1" ? { ...n, kubelet: "v1.22.2" } : n)) }).nothingToDo).toBe(false);
  });
});

test("cluster.yaml gets the new version and bundle directory, comments kept, written only when different", () => {
  const dir = mkdtempSync(join(tmpdir(), "upgrade-config-"));
  const f = join(dir, "cluster.yaml");
  writeFileSync(f, "kubernetes:\n  version: 1.22.2   # must match the bundle\nbundle:\n  profile: debian12\n  dir: ./bundle-debian12   # relative\n", { mode: 0o600 });
  expect(rewriteConfig(f, "v1.23.17", join(dir, "bundle-debian12-1.23"))).toBe(true);
  const text = readFileSync(f, "utf8");
  expect(text).toContain("version: 1.23.17");
  expect(text).toContain("# must match the bundle");
  expect(text).toContain("dir: ./bundle-debian12-1.23");
  expect(rewriteConfig(f, "v1.23.17", join(dir, "bundle-debian12-1.23"))).toBe(false);
});

test("a node a stopped run left part-way may be NotReady: the re-run resumes it instead of refusing", () => {
  const f = facts({ nodes: kubeNodes("v1.22.2").map((n) => (n.name === "node1" ? { ...n, ready: false } : n)), resuming: ["node1"] });
  expect(planUpgrade(f).refusals).toEqual([]);
  expect(codeOf({ ...f, resuming: ["master2"] })).toBe(1);
});

describe("the depot's previous copy (DirHost)", () => {
  const root = mkdtempSync(join(tmpdir(), "upgrade-depot-"));
  const host = new DirHost(root, "master2", "192.168.217.20");
  const ctx = (l: BundleLock) => ({ lock: l, host: async () => host, log: { info: () => {}, warn: () => {}, debug: () => {} } }) as unknown as PhaseContext;
  const node = config.hosts.find((h) => h.name === "master2")!;
  const served = (l: BundleLock) => {
    mkdirSync(host.local(`${DEPOT_BUNDLE_DIR}/files`), { recursive: true });
    writeFileSync(host.local(`${DEPOT_BUNDLE_DIR}/lock.json`), serializeLock(l));
    writeFileSync(host.local(`${DEPOT_BUNDLE_DIR}/files/a`), `payload of ${l.kubernetesVersion}`);
  };
  test("kept as hard links before the new bundle replaces it; not again once it is kept or when the new one is served", async () => {
    served(A);
    await keepPreviousCopy(ctx(B), node);
    const prev = host.local(`${PREVIOUS_BUNDLE_DIR}/files/a`);
    expect(readFileSync(prev, "utf8")).toBe("payload of 1.22.2");
    expect(statSync(prev).ino).toBe(statSync(host.local(`${DEPOT_BUNDLE_DIR}/files/a`)).ino);
    // A run stopped while the copy was being replaced (its lock.json still A's, a file already B's, by rename): kept as it was.
    writeFileSync(host.local(`${DEPOT_BUNDLE_DIR}/files/a.new`), "payload of 1.23.17");
    renameSync(host.local(`${DEPOT_BUNDLE_DIR}/files/a.new`), host.local(`${DEPOT_BUNDLE_DIR}/files/a`));
    await keepPreviousCopy(ctx(B), node);
    expect(readFileSync(prev, "utf8")).toBe("payload of 1.22.2");
    served(B);
    await keepPreviousCopy(ctx(B), node);
    expect(readFileSync(host.local(`${PREVIOUS_BUNDLE_DIR}/lock.json`), "utf8")).toBe(serializeLock(A));
  });
});
