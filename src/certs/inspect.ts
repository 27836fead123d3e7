// Reading one certificate: what it says, whether a CA signed it, whether a key belongs to it,
// and the verdict (ok / warn / expired / broken). Pure: no I/O, the caller brings the bytes.
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { isPrivateKeyLabel, pemBlocks, pemEncode } from "../pki/pem.ts";
import { parseNodeSanText, type SanSet } from "../pki/san.ts";
import { DAY_MS } from "../pki/validity.ts";

export type CertStatus = "ok" | "warn" | "expired" | "broken";

export interface CertInfo {
  /** "CN=kube-apiserver, O=..." in certificate order. */
  subject: string;
  issuer: string;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  sans: SanSet;
  isCa: boolean;
  serial: string;
  /** SHA-256 of the DER certificate, hex, to compare CAs across nodes. */
  fingerprint: string;
  x509: X509Certificate;
}

const oneLine = (dn: string) => dn.split("\n").filter(Boolean).join(", ");

export function describeCert(cert: X509Certificate): CertInfo {
  const subject = oneLine(cert.subject);
  return {
    subject,
    issuer: oneLine(cert.issuer),
    commonName: /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? "",
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    sans: parseNodeSanText(cert.subjectAltName),
    isCa: cert.ca,
    serial: cert.serialNumber.toLowerCase(),
    fingerprint: cert.fingerprint256.replaceAll(":", "").toLowerCase(),
    x509: cert,
  };
}

/** The certificates and the (first) unencrypted private key found in a PEM text; kubelet's .pem files carry both. */
export function parsePem(text: string): { certs: X509Certificate[]; keyPem?: string } {
  const certs: X509Certificate[] = [];
  let keyPem: string | undefined;
  for (const b of pemBlocks(text)) {
    if (b.label === "CERTIFICATE") certs.push(new X509Certificate(b.der));
    else if (!keyPem && isPrivateKeyLabel(b.label)) keyPem = pemEncode(b.label, b.der);
  }
  return { certs, keyPem };
}

/** The first certificate of a PEM text, or an Error saying why there is none. */
export function firstCert(text: string): CertInfo | Error {
  try {
    const { certs } = parsePem(text);
    if (certs.length === 0) return new Error("no PEM certificate in it");
    return describeCert(certs[0]!);
  } catch (e) {
    return new Error(`not a readable certificate: ${(e as Error).message}`);
  }
}

/** Whether `ca` issued `cert`: issuer name matches and the signature verifies with the CA's key. */
export function isSignedBy(cert: CertInfo, ca: CertInfo): boolean {
  try {
    return cert.x509.checkIssued(ca.x509) && cert.x509.verify(ca.x509.publicKey);
  } catch {
    return false;
  }
}

/** Whether the private key is the one for the certificate's public key; an unreadable key is an Error. */
export function keyMatches(cert: CertInfo, keyPem: string): boolean | Error {
  try {
    const pub = createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "der" });
    return pub.equals(cert.x509.publicKey.export({ type: "spki", format: "der" }));
  } catch (e) {
    return new Error(`unreadable private key: ${(e as Error).message}`);
  }
}

/** Whole days left: 9.9 days left is 9; expired 1.2 days ago is -1 (and less than a day either way is 0). */
export const residualDays = (cert: CertInfo, now: Date) => Math.trunc((cert.notAfter.getTime() - now.getTime()) / DAY_MS) || 0;

/** Verdict from dates alone, unless problems were found, which make it broken. */
export function certStatus(cert: CertInfo, now: Date, warnDays: number, problems: string[] = []): CertStatus {
  if (problems.length > 0) return "broken";
  if (cert.notAfter.getTime() <= now.getTime()) return "expired";
  if (cert.notBefore.getTime() > now.getTime()) return "broken";
  if (cert.notAfter.getTime() - now.getTime() < warnDays * DAY_MS) return "warn";
  return "ok";
}
