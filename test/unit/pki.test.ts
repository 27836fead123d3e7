// CA and leaf issuance, judged by the openssl CLI: chain, purposes, SANs, usages, key format.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createCa, loadCa, issueCert, needsRenewal, type CertAndKey, type SigningCa } from "../../src/pki/index.ts";
import { must, run, tempFiles, x509Text } from "./support/openssl.ts";

// RSA key generation is CPU-bound: generous guards so a loaded CI machine does not fail the run.
setDefaultTimeout(60_000);

const files = tempFiles();
afterAll(() => files.remove());

const caPair: CertAndKey = await createCa({ commonName: "etcd-ca" });
const ca: SigningCa = await loadCa(caPair, "test CA");
const caPath = files.put("ca.crt", caPair.certPem);
const server = await issueCert(ca, {
  commonName: "master1",
  sans: ["master1", "10.77.0.11", "localhost", "127.0.0.1", "::1"],
  usages: ["server", "client"],
});
const client = await issueCert(ca, { commonName: "kube-apiserver-etcd-client", organizations: ["system:masters"], usages: ["client"] });

const verify = (pem: string, ...args: string[]) => run(["openssl", "verify", "-CAfile", caPath, ...args, files.put("leaf.crt", pem)]);
const endDate = (pem: string) => new Date(must(["openssl", "x509", "-noout", "-enddate"], pem).trim().replace("notAfter=", ""));
const DAY = 86_400_000;

describe("CA", () => {
  test("is a self-signed RSA 2048 CA valid for 10 years that openssl accepts", () => {
    const text = x509Text(caPair.certPem);
    expect(text).toContain("Public-Key: (2048 bit)");
    expect(text).toContain("sha256WithRSAEncryption");
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    expect(text).toContain("Subject: CN = etcd-ca");
    expect(must(["openssl", "verify", "-CAfile", caPath, caPath])).toContain(": OK");
    const years = (endDate(caPair.certPem).getTime() - Date.now()) / (365 * DAY);
    expect(years).toBeGreaterThan(9.9);
    expect(years).toBeLessThan(10.1);
  });

  test("writes its key as PKCS#8 that openssl reads and that belongs to the certificate", () => {
    expect(caPair.keyPem.startsWith("-----BEGIN PRIVATE KEY-----\n")).toBe(true);
    const fromKey = must(["openssl", "pkey", "-pubout"], caPair.keyPem);
    const fromCert = must(["openssl", "x509", "-noout", "-pubkey"], caPair.certPem);
    expect(fromKey).toBe(fromCert);
  });

  test("loads an openssl-made CA with a PKCS#1 key and signs with it", async () => {
    const f = tempFiles();
    try {
      must(["openssl", "genrsa", "-traditional", "-out", f.path("o.key"), "2048"]);
      must(["openssl", "req", "-x509", "-new", "-key", f.path("o.key"), "-subj", "/CN=other-ca", "-days", "30", "-out", f.path("o.crt")]);
      const pair = { certPem: must(["cat", f.path("o.crt")]), keyPem: must(["cat", f.path("o.key")]) };
      expect(pair.keyPem).toContain("BEGIN RSA PRIVATE KEY");
      const other = await loadCa(pair, f.path("o.crt"));
      const leaf = await issueCert(other, { commonName: "x", usages: ["client"] });
      expect(run(["openssl", "verify", "-CAfile", f.path("o.crt"), f.put("x.crt", leaf.certPem)]).code).toBe(0);
      expect(verify(leaf.certPem).code).not.toBe(0);
    } finally {
      f.remove();
    }
  });

  test("refuses a key that is not the CA's, and a certificate that is not a CA", async () => {
    await expect(loadCa({ certPem: caPair.certPem, keyPem: server.keyPem }, "/state/pki/etcd-ca.crt")).rejects.toThrow(
      "the CA key does not belong to the CA certificate /state/pki/etcd-ca.crt",
    );
    await expect(loadCa(server, "/x/server.crt")).rejects.toThrow("/x/server.crt is not a CA certificate");
    await expect(loadCa({ certPem: caPair.certPem, keyPem: "garbage" }, "/x/ca.key")).rejects.toThrow("cannot read the private key /x/ca.key");
  });
});

describe("leaf certificates", () => {
  test("a server+client certificate verifies for both TLS purposes with the right SANs and usages", () => {
    expect(verify(server.certPem, "-purpose", "sslserver").code).toBe(0);
    expect(verify(server.certPem, "-purpose", "sslclient").code).toBe(0);
    const text = x509Text(server.certPem);
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toContain("DNS:master1, DNS:localhost, IP Address:10.77.0.11, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    expect(text).toContain("Subject: CN = master1");
    // openssl's own host and IP checks, not our SAN parser.
    expect(verify(server.certPem, "-verify_ip", "10.77.0.11").code).toBe(0);
    expect(verify(server.certPem, "-verify_hostname", "master1").code).toBe(0);
    expect(verify(server.certPem, "-verify_ip", "10.77.0.12").code).not.toBe(0);
  });

  test("a client certificate carries CN and O and is refused as a server certificate", () => {
    expect(verify(client.certPem, "-purpose", "sslclient").code).toBe(0);
    const r = verify(client.certPem, "-purpose", "sslserver");
    expect(r.code).not.toBe(0);
    expect(r.out + r.err).toContain("unsuitable certificate purpose");
    expect(x509Text(client.certPem)).toContain("Subject: CN = kube-apiserver-etcd-client, O = system:masters");
  });

  test("lasts 1 year by default, as configured otherwise, never beyond its CA, and is backdated an hour", async () => {
    const oneYear = (endDate(client.certPem).getTime() - Date.now()) / DAY;
    expect(Math.round(oneYear)).toBe(365);
    const short = await issueCert(ca, { commonName: "short", usages: ["client"], validityDays: 10 });
    expect(Math.round((endDate(short.certPem).getTime() - Date.now()) / DAY)).toBe(10);
    const long = await issueCert(ca, { commonName: "long", usages: ["client"], validityDays: 20 * 365 });
    expect(endDate(long.certPem).getTime()).toBe(endDate(caPair.certPem).getTime());
    const start = new Date(must(["openssl", "x509", "-noout", "-startdate"], short.certPem).trim().replace("notBefore=", ""));
    expect(Math.round((Date.now() - start.getTime()) / 60_000)).toBe(60);
  });

  test("serials are random and positive, keys differ per certificate", async () => {
    const serial = (pem: string) => must(["openssl", "x509", "-noout", "-serial"], pem).trim();
    const again = await issueCert(ca, { commonName: "master1", usages: ["server"] });
    expect(serial(again.certPem)).not.toBe(serial(server.certPem));
    expect(serial(server.certPem)).toMatch(/^serial=[0-7][0-9A-F]{31}$/);
    expect(again.keyPem).not.toBe(server.keyPem);
  });

  test("refuses a certificate without usages or name", async () => {
    await expect(issueCert(ca, { commonName: "x", usages: [] })).rejects.toThrow("give at least one usage");
    await expect(issueCert(ca, { commonName: "", usages: ["client"] })).rejects.toThrow("needs a common name");
  });
});

describe("needsRenewal", () => {
  const want = ["master1", "10.77.0.11", "::1"];
  test("keeps a fresh certificate that matches CA, key and SANs", () => {
    expect(needsRenewal(server.certPem, { wantSans: want, caPem: caPair.certPem, keyPem: server.keyPem })).toEqual({ renew: false });
  });
  test("renews within 30 days of expiry, or when told to keep more days", () => {
    const in340 = new Date(Date.now() + 340 * DAY);
    expect(needsRenewal(server.certPem, { now: in340 })).toEqual({ renew: true, why: "expires in 24 days (renewed within 30)" });
    expect(needsRenewal(server.certPem, { now: new Date(Date.now() + 300 * DAY) })).toEqual({ renew: false });
    expect(needsRenewal(server.certPem, { minDaysLeft: 400 }).renew).toBe(true);
    expect(needsRenewal(server.certPem, { now: new Date(Date.now() + 400 * DAY) })).toEqual({ renew: true, why: "expired" });
  });
  test("renews when a wanted name is missing, the CA or the key differ, or the PEM is junk", async () => {
    expect(needsRenewal(server.certPem, { wantSans: [...want, "10.77.0.99"] })).toEqual({ renew: true, why: "SANs lack 10.77.0.99" });
    const other = await createCa({ commonName: "other" });
    expect(needsRenewal(server.certPem, { caPem: other.certPem })).toEqual({ renew: true, why: "not signed by the current CA" });
    expect(needsRenewal(server.certPem, { keyPem: client.keyPem })).toEqual({ renew: true, why: "key does not match" });
    expect(needsRenewal(undefined)).toEqual({ renew: true, why: "missing" });
    expect(needsRenewal("hello").renew).toBe(true);
  });
});
