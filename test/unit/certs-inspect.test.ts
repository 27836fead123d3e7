// The pieces check-certs is built from: PEM/DER parsing, SAN comparison, key pairing, kubeconfig credentials, status.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { createCa, issueCert, loadCa } from "../../src/pki/index.ts";
import { certStatus, firstCert, isSignedBy, keyMatches, kubeconfigCredentials, parsePem, residualDays } from "../../src/certs/index.ts";
import { canonicalIp, missingSans, toSanSet } from "../../src/pki/san.ts";
import { must } from "./support/openssl.ts";

// RSA key generation is CPU-bound: generous guards so a loaded CI machine does not fail the run.
setDefaultTimeout(60_000);

const DAY = 86_400_000;
const caPair = await createCa({ commonName: "kubernetes" });
const ca = await loadCa(caPair, "ca");
const leaf = await issueCert(ca, { commonName: "kube-apiserver", sans: ["Master1", "10.77.0.100", "fd00::10"], usages: ["server"] });

describe("SANs", () => {
  test("IPv6 addresses compare by value, names without case", () => {
    expect(canonicalIp("::1")).toBe(canonicalIp("0:0:0:0:0:0:0:1"));
    expect(canonicalIp("fd00::10")).toBe("fd00:0:0:0:0:0:0:10");
    expect(canonicalIp("::ffff:10.0.0.1")).toBe(canonicalIp("0:0:0:0:0:ffff:a00:1"));
    expect(() => canonicalIp("master1")).toThrow("not an IP address: master1");
    expect(toSanSet(["a", "10.0.0.1", "A", "::1", "0::1"])).toEqual({ dnsNames: ["A"], ipAddresses: ["10.0.0.1", "0::1"] });
  });

  test("what a parsed certificate lacks, as openssl lists its SANs", () => {
    const info = firstCert(leaf.certPem);
    if (info instanceof Error) throw info;
    expect(must(["openssl", "x509", "-noout", "-ext", "subjectAltName"], leaf.certPem)).toContain("IP Address:FD00:0:0:0:0:0:0:10");
    expect(missingSans(info.sans, ["master1", "10.77.0.100", "fd00:0::10"])).toEqual([]);
    expect(missingSans(info.sans, ["master2", "10.77.0.11", "fd00::11"])).toEqual(["master2", "10.77.0.11", "fd00::11"]);
  });
});

describe("parsing", () => {
  test("reads subject, issuer, dates, serial and CA flag as openssl does", () => {
    const info = firstCert(leaf.certPem);
    if (info instanceof Error) throw info;
    expect(info.subject).toBe("CN=kube-apiserver");
    expect(info.issuer).toBe("CN=kubernetes");
    expect(info.isCa).toBe(false);
    expect(info.serial).toBe(must(["openssl", "x509", "-noout", "-serial"], leaf.certPem).trim().slice(7).toLowerCase());
    const end = new Date(must(["openssl", "x509", "-noout", "-enddate"], leaf.certPem).trim().slice(9));
    expect(info.notAfter.getTime()).toBe(end.getTime());
    const fp = must(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], leaf.certPem).trim().split("=")[1]!.replaceAll(":", "").toLowerCase();
    expect(info.fingerprint).toBe(fp);
  });

  test("finds certificate and key in one file (kubelet's .pem) and ignores text around blocks", () => {
    const { certs, keyPem } = parsePem(`Bag Attributes\n${leaf.certPem}junk\n${caPair.certPem}${leaf.keyPem}`);
    expect(certs.length).toBe(2);
    expect(keyPem).toBe(leaf.keyPem);
  });

  test("reports junk as an error instead of throwing", () => {
    expect(firstCert("nothing here")).toEqual(new Error("no PEM certificate in it"));
    const bad = firstCert("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    expect(bad).toBeInstanceOf(Error);
    expect((bad as Error).message).toStartWith("not a readable certificate: ");
  });
});

describe("signature and key checks", () => {
  test("signed by its CA and not by a CA of the same name", async () => {
    const info = firstCert(leaf.certPem) as Exclude<ReturnType<typeof firstCert>, Error>;
    const good = firstCert(caPair.certPem) as typeof info;
    const twin = firstCert((await createCa({ commonName: "kubernetes" })).certPem) as typeof info;
    expect(isSignedBy(info, good)).toBe(true);
    expect(isSignedBy(info, twin)).toBe(false);
  });

  test("matches its own key (PKCS#8 or openssl's PKCS#1 form), not another, and says when a key is unreadable", () => {
    const info = firstCert(leaf.certPem) as Exclude<ReturnType<typeof firstCert>, Error>;
    expect(keyMatches(info, leaf.keyPem)).toBe(true);
    const pkcs1 = must(["openssl", "pkey", "-traditional"], leaf.keyPem);
    expect(pkcs1).toContain("BEGIN RSA PRIVATE KEY");
    expect(keyMatches(info, pkcs1)).toBe(true);
    expect(keyMatches(info, caPair.keyPem)).toBe(false);
    expect(keyMatches(info, "not a key")).toBeInstanceOf(Error);
  });
});

describe("status", () => {
  const info = firstCert(leaf.certPem) as Exclude<ReturnType<typeof firstCert>, Error>;
  const at = (days: number) => new Date(info.notAfter.getTime() - days * DAY);
  test("ok, warn within the threshold, expired after notAfter, broken with problems or before notBefore", () => {
    expect(certStatus(info, at(31), 30)).toBe("ok");
    expect(certStatus(info, at(29.5), 30)).toBe("warn");
    expect(residualDays(info, at(29.5))).toBe(29);
    expect(certStatus(info, at(0), 30)).toBe("expired");
    expect(certStatus(info, at(-1.5), 30)).toBe("expired");
    expect(residualDays(info, at(-1.5))).toBe(-1);
    expect(certStatus(info, at(100), 30, ["key does not match"])).toBe("broken");
    expect(certStatus(info, new Date(info.notBefore.getTime() - 1000), 30)).toBe("broken");
  });
});

describe("kubeconfig credentials", () => {
  const conf = (user: string) => `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://x", certificate-authority-data: ${btoa(caPair.certPem)}}}]
contexts: [{name: other, context: {cluster: c, user: nobody}}, {name: main, context: {cluster: c, user: me}}]
current-context: main
users:
- {name: nobody, user: {token: abc}}
- name: me
  user:
${user}
`;
  test("embedded data of the current context's user", () => {
    const c = kubeconfigCredentials(conf(`    client-certificate-data: ${btoa(leaf.certPem)}\n    client-key-data: ${btoa(leaf.keyPem)}`), "/etc/kubernetes/admin.conf");
    expect(c.user).toBe("me");
    expect(c.clientCertPem).toBe(leaf.certPem);
    expect(c.clientKeyPem).toBe(leaf.keyPem);
    expect(c.caPem).toBe(caPair.certPem);
  });
  test("referenced files, relative ones resolved next to the kubeconfig", () => {
    const c = kubeconfigCredentials(conf("    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n    client-key: pki/k.key"), "/etc/kubernetes/kubelet.conf");
    expect(c.clientCertPath).toBe("/var/lib/kubelet/pki/kubelet-client-current.pem");
    expect(c.clientKeyPath).toBe("/etc/kubernetes/pki/k.key");
  });
  test("bad YAML and a user without credentials are errors naming the file", () => {
    expect(() => kubeconfigCredentials("users: [", "/etc/kubernetes/x.conf")).toThrow("/etc/kubernetes/x.conf is not valid YAML");
    expect(() => kubeconfigCredentials("kind: Config\n", "/etc/kubernetes/y.conf")).toThrow("/etc/kubernetes/y.conf has no user with credentials");
  });
});
