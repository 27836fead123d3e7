// upload-certs encryption as kubeadm does it: AES-256-GCM with the 32-byte certificate key,
// nonce prepended to the sealed data.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

export function seal(data: string, hexKey: string): string {
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", Buffer.from(hexKey, "hex"), nonce);
  const body = Buffer.concat([c.update(data), c.final()]);
  return Buffer.concat([nonce, body, c.getAuthTag()]).toString("base64");
}

/** Throws "cipher: message authentication failed" (Go's wording) on a wrong key. */
export function open(sealed: string, hexKey: string): string {
  const raw = Buffer.from(sealed, "base64");
  const nonce = raw.subarray(0, 12), tag = raw.subarray(raw.length - 16), body = raw.subarray(12, raw.length - 16);
  try {
    const d = createDecipheriv("aes-256-gcm", Buffer.from(hexKey, "hex"), nonce);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(body), d.final()]).toString();
  } catch {
    throw new Error("cipher: message authentication failed");
  }
}
