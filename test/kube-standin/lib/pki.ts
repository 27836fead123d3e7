// Certificates as kubeadm makes them: RSA-2048 keys, a 10-year CA, 1-year leaves signed by it.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createHash, webcrypto } from "node:crypto";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const subtle = webcrypto.subtle as unknown as SubtleCrypto;
const ALG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
const DAY = 86_400_000;

export interface Pair { cert: string; key: string }
export interface LeafSpec {
  cn: string;
  orgs?: string[];
  dns?: string[];
  ips?: string[];
  usage: "server" | "client" | "both";
  days?: number;
}

const randomSerial = () => Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString("hex").replace(/^[89a-f]/, "1");
const subjectOf = (cn: string, orgs: string[] = []) => [...orgs.map((o) => `O=${o}`), `CN=${cn}`].join(", ");

export async function newKeyPair(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
}

export async function keyToPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

export async function publicKeyToPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await subtle.exportKey("spki", key), "PUBLIC KEY");
}

export async function importPrivateKey(pem: string): Promise<CryptoKey> {
  return subtle.importKey("pkcs8", x509.PemConverter.decode(pem)[0]!, ALG, true, ["sign"]);
}

export async function newCA(cn: string, years = 10): Promise<Pair> {
  const keys = await newKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${cn}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + years * 365 * DAY),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem"), key: await keyToPem(keys.privateKey) };
}

/** Sign a public key into a leaf certificate. */
export async function signLeaf(ca: Pair, publicKey: CryptoKey, spec: LeafSpec): Promise<string> {
  const caCert = new x509.X509Certificate(ca.cert);
  const usages = { server: [x509.ExtendedKeyUsage.serverAuth], client: [x509.ExtendedKeyUsage.clientAuth], both: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth] }[spec.usage];
  const names = [...(spec.dns ?? []).map((value) => ({ type: "dns" as const, value })), ...(spec.ips ?? []).map((value) => ({ type: "ip" as const, value }))];
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: subjectOf(spec.cn, spec.orgs),
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(Math.min(now + (spec.days ?? 365) * DAY, caCert.notAfter.getTime())),
    signingAlgorithm: ALG,
    publicKey,
    signingKey: await importPrivateKey(ca.key),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(usages),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names)] : []),
    ],
  });
  return cert.toString("pem");
}

export async function newLeaf(ca: Pair, spec: LeafSpec): Promise<Pair> {
  const keys = await newKeyPair();
  return { cert: await signLeaf(ca, keys.publicKey, spec), key: await keyToPem(keys.privateKey) };
}

/** The discovery pin kubeadm prints: sha256 of the CA's DER SubjectPublicKeyInfo. */
export function spkiPin(certPem: string): string {
  const cert = new x509.X509Certificate(certPem);
  return "sha256:" + createHash("sha256").update(Buffer.from(cert.publicKey.rawData)).digest("hex");
}

export interface CertFacts { subject: string; cn: string; orgs: string[]; notAfter: Date; dns: string[]; ips: string[]; isCA: boolean }

export function certFacts(pem: string): CertFacts {
  const c = new x509.X509Certificate(pem);
  const san = c.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.toJSON() ?? [];
  const bc = c.getExtension(x509.BasicConstraintsExtension);
  return {
    subject: c.subject,
    cn: c.subjectName.getField("CN")[0] ?? "",
    orgs: c.subjectName.getField("O"),
    notAfter: c.notAfter,
    dns: names.filter((n) => n.type === "dns").map((n) => n.value),
    ips: names.filter((n) => n.type === "ip").map((n) => n.value),
    isCA: bc?.ca ?? false,
  };
}

/** Whether `pem` was signed by the CA's key. */
export async function signedBy(pem: string, caPem: string): Promise<boolean> {
  return new x509.X509Certificate(pem).verify({ publicKey: new x509.X509Certificate(caPem).publicKey, signatureOnly: true });
}

export async function newCsr(cn: string, orgs: string[]): Promise<{ csr: string; key: string }> {
  const keys = await newKeyPair();
  const req = await x509.Pkcs10CertificateRequestGenerator.create({ name: subjectOf(cn, orgs), keys, signingAlgorithm: ALG });
  return { csr: req.toString("pem"), key: await keyToPem(keys.privateKey) };
}

/** Verify a CSR's self-signature and return its subject and public key. */
export async function readCsr(pem: string): Promise<{ cn: string; orgs: string[]; publicKey: CryptoKey }> {
  const req = new x509.Pkcs10CertificateRequest(pem);
  if (!(await req.verify())) throw new Error("certificate signing request signature is invalid");
  return { cn: req.subjectName.getField("CN")[0] ?? "", orgs: req.subjectName.getField("O"), publicKey: await req.publicKey.export(ALG, ["verify"]) };
}
