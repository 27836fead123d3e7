// Secrets and hashes kubeadm join needs, made by the installer so nothing is scraped from kubeadm's output.
import { X509Certificate, createHash, randomBytes, randomInt } from "node:crypto";
import { pemBlocks } from "./pem.ts";

/**
 * kubeadm's --discovery-token-ca-cert-hash: "sha256:" + hex SHA-256 of the CA certificate's
 * DER SubjectPublicKeyInfo (not of the whole certificate).
 */
export function discoveryHash(caCertPem: string): string {
  const block = pemBlocks(caCertPem).find((b) => b.label === "CERTIFICATE");
  if (!block) throw new Error("no PEM certificate found where the Kubernetes CA (/etc/kubernetes/pki/ca.crt) was expected");
  const spki = new X509Certificate(block.der).publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}

const LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + LOWER_ALNUM;

/** Uniformly random characters from an alphabet (randomInt avoids modulo bias). */
export function randomString(length: number, alphabet = ALNUM): string {
  let s = "";
  for (let i = 0; i < length; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

export const BOOTSTRAP_TOKEN_FORMAT = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;

/** A kubeadm bootstrap token "abcdef.0123456789abcdef". */
export const bootstrapToken = () => `${randomString(6, LOWER_ALNUM)}.${randomString(16, LOWER_ALNUM)}`;

/** kubeadm --certificate-key: 32 random bytes as hex (AES-256 key for the uploaded control-plane certs). */
export const certificateKey = () => randomBytes(32).toString("hex");

/**
 * A password of letters and digits only, safe unquoted in keepalived.conf and haproxy.cfg.
 * 8 is the default because keepalived's auth_pass uses only the first 8 characters.
 */
export function randomPassword(length = 8): string {
  if (!Number.isInteger(length) || length < 8) throw new Error(`a password needs at least 8 characters, got ${length}`);
  return randomString(length);
}
