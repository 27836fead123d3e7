// Leaf certificates signed by a CA.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import type { CertAndKey, SigningCa } from "./ca.ts";
import { generateKeyPair, privateKeyToPem } from "./keys.ts";
import { toSanSet } from "./san.ts";
import { randomSerial, validityWindow } from "./validity.ts";

/** serverAuth for TLS servers, clientAuth for TLS clients; etcd peers and servers need both. */
export type Usage = "server" | "client";

export interface LeafSpec {
  commonName: string;
  /** Subject O, e.g. system:masters. */
  organizations?: string[];
  /** Host names and IP addresses mixed; split into DNS and IP SANs. */
  sans?: string[];
  usages: Usage[];
  /** Default 365. Clamped so the leaf never outlives its CA. */
  validityDays?: number;
  now?: Date;
}

export const LEAF_VALIDITY_DAYS = 365;

const EKU: Record<Usage, x509.ExtendedKeyUsage> = {
  server: x509.ExtendedKeyUsage.serverAuth,
  client: x509.ExtendedKeyUsage.clientAuth,
};

export async function issueCert(ca: SigningCa, spec: LeafSpec): Promise<CertAndKey> {
  if (!spec.commonName) throw new Error("a certificate needs a common name");
  if (spec.usages.length === 0) throw new Error(`certificate ${spec.commonName}: give at least one usage (server, client)`);
  const keys = await generateKeyPair();
  const window = validityWindow(spec.now ?? new Date(), spec.validityDays ?? LEAF_VALIDITY_DAYS);
  const notAfter = window.notAfter > ca.cert.notAfter ? ca.cert.notAfter : window.notAfter;
  const sans = toSanSet(spec.sans ?? []);
  const names: x509.JsonGeneralName[] = [
    ...sans.dnsNames.map((value) => ({ type: "dns" as const, value })),
    ...sans.ipAddresses.map((value) => ({ type: "ip" as const, value })),
  ];
  const subject: x509.JsonName = [{ CN: [spec.commonName] }, ...(spec.organizations ?? []).map((o) => ({ O: [o] }))];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(spec.usages.map((u) => EKU[u])),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: new x509.Name(subject),
    issuer: ca.cert.subjectName,
    notBefore: window.notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    extensions,
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await privateKeyToPem(keys.privateKey) };
}
