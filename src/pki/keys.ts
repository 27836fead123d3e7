// Private keys: generated with WebCrypto, written as PKCS#8 PEM ("PRIVATE KEY"),
// which openssl, Go (etcd) and kubeadm all read.
import "reflect-metadata";
import { createPrivateKey } from "node:crypto";
import { pemEncode } from "./pem.ts";

/** RSA 2048 with SHA-256 signatures: what kubeadm's own CA uses, so every consumer accepts it. */
export const RSA_SIGNING = {
  name: "RSASSA-PKCS1-v1_5",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
} as const;

export function generateKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(RSA_SIGNING, true, ["sign", "verify"]) as Promise<CryptoKeyPair>;
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  return pemEncode("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", key));
}

/**
 * A signing key from PEM. Accepts PKCS#8 and the PKCS#1 "RSA PRIVATE KEY" that kubeadm writes,
 * so a CA made by another tool can still sign. `where` names the file for the error message.
 */
export async function importSigningKey(pem: string, where: string): Promise<CryptoKey> {
  let pkcs8: Buffer;
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== "rsa") {
      throw new Error(`it is a ${key.asymmetricKeyType} key; only RSA keys are supported`);
    }
    pkcs8 = key.export({ type: "pkcs8", format: "der" });
  } catch (e) {
    throw new Error(`cannot read the private key ${where}: ${(e as Error).message}. Restore it from the backup or remove it to have a new one generated.`);
  }
  return crypto.subtle.importKey("pkcs8", pkcs8, RSA_SIGNING, false, ["sign"]);
}
