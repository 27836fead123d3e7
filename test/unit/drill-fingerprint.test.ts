// The interrupt drill's comparator must see through what differs by nature between two installs
// (fresh keys, serials, secrets, times) and still catch what matters (another issuer, a changed line).
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { normalizeText, type Normalizer } from "../drills/fingerprint.ts";

const dir = mkdtempSync(join(tmpdir(), "fp-"));
function cert(name: string, subject: string, issuerOf?: string): string {
  const o = (...a: string[]) => {
    const r = spawnSync("openssl", a, { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
  };
  if (!issuerOf) o("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-subj", subject, "-days", "1");
  else {
    o("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
    o("x509", "-req", "-in", `${name}.csr`, "-CA", `${issuerOf}.crt`, "-CAkey", `${issuerOf}.key`, "-CAcreateserial", "-out", `${name}.crt`, "-days", "1");
  }
  return readFileSync(join(dir, `${name}.crt`), "utf8");
}
const norm = (secrets: [string, string][] = []): Normalizer => ({ secrets: new Map(secrets), issuers: new Set() });

test("two installs' certificates, keys, kubeconfig data, secrets and times compare equal", () => {
  const [caA, caB] = [cert("caA", "/CN=kubernetes"), cert("caB", "/CN=kubernetes")];
  const [leafA, leafB] = [cert("leafA", "/CN=kube-apiserver", "caA"), cert("leafB", "/CN=kube-apiserver", "caB")];
  const file = (ca: string, leaf: string, key: string, pass: string, at: string) =>
    `client-certificate-data: ${Buffer.from(leaf).toString("base64")}\n${ca}${readFileSync(join(dir, key), "utf8")}auth_pass ${pass}\nwritten ${at} (${Date.parse(at)})\n`;
  const a = normalizeText(file(caA, leafA, "leafA.key", "Xy12ab9Q", "2026-11-25T10:00:00.123Z"), norm([["Xy12ab9Q", "<secret keepalivedAuthPass>"]]));
  const b = normalizeText(file(caB, leafB, "leafB.key", "Pq77zz3W", "2026-11-25T11:30:00Z"), norm([["Pq77zz3W", "<secret keepalivedAuthPass>"]]));
  expect(a).toBe(b);
  expect(a).toContain("<cert subject=CN=kube-apiserver issuer=CN=kubernetes");
  expect(a).toContain("<secret keepalivedAuthPass>");
});

test("another issuer, another SAN-less subject or a changed line is a difference; issuers are collected", () => {
  const ca = cert("ca1", "/CN=kubernetes");
  const other = cert("ca2", "/CN=etcd-ca");
  const leaf1 = cert("l1", "/CN=apiserver-etcd-client", "ca1");
  const leaf2 = cert("l2", "/CN=apiserver-etcd-client", "ca2");
  const n = norm();
  expect(normalizeText(leaf1, n)).not.toBe(normalizeText(leaf2, norm()));
  expect([...n.issuers]).toEqual(["CN=kubernetes -> CN=apiserver-etcd-client"]);
  expect(normalizeText(`${ca}port 9443\n`, norm())).not.toBe(normalizeText(`${ca}port 6443\n`, norm()));
  expect(normalizeText(ca, norm())).not.toBe(normalizeText(other, norm()));
});
