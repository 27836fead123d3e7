// kubeadm join secrets: the discovery hash checked against openssl's own pipeline, and the random formats.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { createCa, discoveryHash, bootstrapToken, certificateKey, randomPassword, BOOTSTRAP_TOKEN_FORMAT } from "../../src/pki/index.ts";
import { must } from "./support/openssl.ts";

// RSA key generation is CPU-bound: generous guards so a loaded CI machine does not fail the run.
setDefaultTimeout(60_000);

describe("discoveryHash", () => {
  test("equals sha256 of the DER SubjectPublicKeyInfo as openssl computes it (kubeadm's documented recipe)", async () => {
    for (const ca of [await createCa({ commonName: "kubernetes" }), { certPem: must(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "/dev/null", "-subj", "/CN=kubernetes", "-days", "1"]) }]) {
      const pub = must(["openssl", "x509", "-pubkey", "-noout"], ca.certPem);
      const der = Bun.spawnSync(["openssl", "pkey", "-pubin", "-outform", "der"], { stdin: Buffer.from(pub) }).stdout;
      const sum = must(["sha256sum"], der).split(" ")[0];
      expect(sum).toMatch(/^[0-9a-f]{64}$/);
      expect(discoveryHash(ca.certPem)).toBe(`sha256:${sum}`);
    }
  });

  test("says what it expected when given no certificate", () => {
    expect(() => discoveryHash("not a pem")).toThrow("no PEM certificate found where the Kubernetes CA (/etc/kubernetes/pki/ca.crt) was expected");
  });
});

describe("random secrets", () => {
  test("bootstrap tokens have kubeadm's format and differ", () => {
    const tokens = new Set(Array.from({ length: 50 }, bootstrapToken));
    expect(tokens.size).toBe(50);
    for (const t of tokens) expect(t).toMatch(BOOTSTRAP_TOKEN_FORMAT);
    // All 36 characters are in use (no alphabet truncated by a mapping bug).
    expect(new Set([...tokens].join("").replaceAll(".", "")).size).toBe(36);
  });

  test("certificate keys are 32 bytes of hex", () => {
    const k = certificateKey();
    expect(k).toMatch(/^[0-9a-f]{64}$/);
    expect(certificateKey()).not.toBe(k);
  });

  test("passwords are letters and digits, 8 by default for keepalived's auth_pass, never shorter", () => {
    const p = randomPassword();
    expect(p).toMatch(/^[A-Za-z0-9]{8}$/);
    expect(randomPassword(24)).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(randomPassword()).not.toBe(p);
    expect(() => randomPassword(4)).toThrow("a password needs at least 8 characters, got 4");
  });
});
