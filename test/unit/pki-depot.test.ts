// The depot PKI plan: a CA kept in master1's state dir (like the etcd CA) and one serving certificate
// that names every master and depot.address, kept on a re-run and reissued near expiry or when the
// names it must carry change.
import { describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { planDepotPki, reviewDepotPki, depotCaStatePaths, depotServingSans, DEPOT_SERVING, type DepotPkiPlan, type ExistingDepotPki } from "../../src/pki/index.ts";
import { labCluster, labHost } from "./support/cluster-fixture.ts";

const config = labCluster();
const state = depotCaStatePaths(config.stateDir);
const content = (plan: DepotPkiPlan, path: string) => plan.files.find((f) => f.path === path)!.content;
const existingFrom = (plan: DepotPkiPlan): ExistingDepotPki => ({
  ca: { certPem: content(plan, state.cert), keyPem: content(plan, state.key) },
  serving: { certPem: content(plan, DEPOT_SERVING.cert), keyPem: content(plan, DEPOT_SERVING.key) },
});

describe("depot PKI", () => {
  test("first run: a 10-year CA in the state dir (key 0600, with backup) and a serving certificate for every master", async () => {
    const plan = await planDepotPki(config);
    expect(plan.actions).toEqual([
      { id: "depot-ca", action: "issued", why: "missing" },
      { id: "depot-server", action: "issued", why: "missing" },
    ]);
    expect(plan.files.map((f) => [f.path, f.mode.toString(8), f.state, f.node])).toEqual([
      [state.cert, "644", true, "master1"],
      [state.key, "600", true, "master1"],
      [state.backupCert, "644", true, "master1"],
      [state.backupKey, "600", true, "master1"],
      ["/etc/k8s-ha-offline/pki/depot.crt", "644", false, "master1"],
      ["/etc/k8s-ha-offline/pki/depot.key", "600", false, "master1"],
    ]);
    const ca = new X509Certificate(plan.caCertPem);
    expect(ca.ca).toBe(true);
    const years = (Date.parse(ca.validTo) - Date.parse(ca.validFrom)) / (365 * 86_400_000);
    expect(Math.round(years)).toBe(10);
    const leaf = new X509Certificate(content(plan, DEPOT_SERVING.cert));
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.subjectAltName).toBe("DNS:master1, DNS:master2, DNS:master3, IP Address:10.77.0.11, IP Address:10.77.0.12, IP Address:10.77.0.13");
    expect(leaf.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]); // serverAuth only: it is no client certificate
  });

  test("a re-run keeps the CA and the certificate: the same files, nothing issued", async () => {
    const first = await planDepotPki(config);
    const again = await planDepotPki(config, existingFrom(first));
    expect(again.changed).toBe(false);
    expect(again.files).toEqual(first.files);
    expect(reviewDepotPki(config, existingFrom(first))).toEqual([
      { id: "depot-ca", action: "kept" },
      { id: "depot-server", action: "kept" },
    ]);
  });

  test("a new master or depot.address reissues the serving certificate from the same CA", async () => {
    const first = await planDepotPki(config);
    const bigger = labCluster();
    bigger.hosts.push(labHost("master4", "10.77.0.14", ["control-plane"]));
    bigger.depot.address = "10.77.0.99";
    expect(depotServingSans(bigger)).toContain("10.77.0.99");
    const review = reviewDepotPki(bigger, existingFrom(first));
    expect(review[1]).toEqual({ id: "depot-server", action: "issued", why: "SANs lack 10.77.0.14, master4, 10.77.0.99" });
    const plan = await planDepotPki(bigger, existingFrom(first));
    expect(plan.actions[0]).toEqual({ id: "depot-ca", action: "kept" });
    expect(plan.caCertPem).toBe(first.caCertPem);
    expect(new X509Certificate(content(plan, DEPOT_SERVING.cert)).subjectAltName).toContain("IP Address:10.77.0.99");
  });

  test("within 30 days of expiry it is reissued; a year before, kept", async () => {
    const first = await planDepotPki(config);
    const soon = new Date(Date.now() + 340 * 86_400_000);
    expect(reviewDepotPki(config, existingFrom(first), { now: soon })[1]).toMatchObject({ action: "issued", why: expect.stringMatching(/^expires in \d+ days/) });
    expect(reviewDepotPki(config, existingFrom(first), { now: new Date(Date.now() + 300 * 86_400_000) })[1]).toEqual({ id: "depot-server", action: "kept" });
  });

  test("a certificate of another CA is replaced; an incomplete CA is a clear error, not silently replaced", async () => {
    const [a, b] = await Promise.all([planDepotPki(config), planDepotPki(config)]);
    const mixed = { ca: existingFrom(a).ca, serving: existingFrom(b).serving };
    expect(reviewDepotPki(config, mixed)[1]).toEqual({ id: "depot-server", action: "issued", why: "not signed by the current CA" });
    expect(() => reviewDepotPki(config, { ca: { certPem: a.caCertPem } })).toThrow(`the depot CA is incomplete: ${state.cert} exists but its partner does not`);
  });
});
