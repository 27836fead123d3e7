// Certificate authorities: a new self-signed CA, or an existing one loaded for signing.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { RSA_SIGNING, generateKeyPair, importSigningKey, privateKeyToPem } from "./keys.ts";
import { DAY_MS, randomSerial, validityWindow } from "./validity.ts";

/** A certificate with its private key, both PEM. Keys are secrets: never log them. */
export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

/** A CA ready to sign. */
export interface SigningCa {
  cert: x509.X509Certificate;
  key: CryptoKey;
  certPem: string;
}

export interface CaOptions {
  commonName: string;
  /** Default 3650 (10 years, as kubeadm). */
  validityDays?: number;
  now?: Date;
}

export const CA_VALIDITY_DAYS = 3650;

export async function createCa(opts: CaOptions): Promise<CertAndKey> {
  const keys = await generateKeyPair();
  const { notBefore, notAfter } = validityWindow(opts.now ?? new Date(), opts.validityDays ?? CA_VALIDITY_DAYS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: new x509.Name([{ CN: [opts.commonName] }]),
    notBefore,
    notAfter,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem") + "\n", keyPem: await privateKeyToPem(keys.privateKey) };
}

/** Load a CA for signing; refuses a certificate that is not a CA, or a key that is not the certificate's. */
export async function loadCa(pair: CertAndKey, where: string): Promise<SigningCa> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(pair.certPem);
  } catch (e) {
    throw new Error(`cannot read the CA certificate ${where}: ${(e as Error).message}`);
  }
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) throw new Error(`${where} is not a CA certificate (basicConstraints CA:FALSE); point it at the CA.`);
  const key = await importSigningKey(pair.keyPem, where);
  // Sign a probe and check it with the certificate's public key: the only reliable pairing test for a non-extractable key.
  const probe = new TextEncoder().encode("ca-key-probe");
  const sig = await crypto.subtle.sign(RSA_SIGNING, key, probe);
  const pub = await cert.publicKey.export(RSA_SIGNING, ["verify"]);
  if (!(await crypto.subtle.verify(RSA_SIGNING, pub, sig, probe))) {
    throw new Error(`the CA key does not belong to the CA certificate ${where}; restore the matching pair from the backup.`);
  }
  return { cert, key, certPem: pair.certPem };
}

export const caExpiresWithinDays = (ca: SigningCa, days: number, now = new Date()) =>
  ca.cert.notAfter.getTime() - now.getTime() < days * DAY_MS;
