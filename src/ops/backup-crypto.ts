// Passphrase encryption of a backup archive, composed only of node:crypto primitives: a key derived
// with scrypt (random salt; its parameters in a small header) and AES-256-GCM, whose tag
// authenticates the header and every byte of the ciphertext. A wrong passphrase and a changed byte
// fail the same way, and no plaintext is released before the tag has checked.
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { InstallError } from "../util/errors.ts";

/** First bytes of an encrypted archive (a plain one starts with a tar header). */
export const ENCRYPTED_MAGIC = "K8SHAOFFLINE-ENC1\n";
const TAG_BYTES = 16;
/** 2^15 × r 8 = 32 MiB of memory per derivation: a few hundred ms here, costly for a guesser. */
const DEFAULT_KDF = { N: 1 << 15, r: 8, p: 1 };

interface Header {
  kdf: "scrypt";
  N: number;
  r: number;
  p: number;
  salt: string;
  iv: string;
}

export class BackupArchiveError extends InstallError {
  constructor(message: string) {
    super(message);
    this.name = "BackupArchiveError";
  }
}

export const isEncrypted = (data: Uint8Array) => Buffer.from(data.subarray(0, ENCRYPTED_MAGIC.length)).toString("latin1") === ENCRYPTED_MAGIC;

const deriveKey = (passphrase: string, h: Pick<Header, "N" | "r" | "p" | "salt">) =>
  scryptSync(passphrase, Buffer.from(h.salt, "base64"), 32, { N: h.N, r: h.r, p: h.p, maxmem: 256 * h.N * h.r + (1 << 20) });

export function encryptArchive(plain: Uint8Array, passphrase: string, kdf = DEFAULT_KDF): Uint8Array {
  if (!passphrase) throw new BackupArchiveError("the passphrase is empty");
  const header: Header = { kdf: "scrypt", ...kdf, salt: randomBytes(16).toString("base64"), iv: randomBytes(12).toString("base64") };
  const head = Buffer.from(`${ENCRYPTED_MAGIC}${JSON.stringify(header)}\n`);
  const cipher = createCipheriv("aes-256-gcm", deriveKey(passphrase, header), Buffer.from(header.iv, "base64"));
  cipher.setAAD(head);
  return Buffer.concat([head, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

/** The header of an encrypted archive, checked for what it must hold (before any memory is spent on scrypt). */
function parseHeader(data: Uint8Array, where: string): { header: Header; headLength: number } {
  const end = Buffer.from(data).indexOf(0x0a, ENCRYPTED_MAGIC.length);
  const bad = (why: string) => new BackupArchiveError(`${where}: the encryption header is damaged (${why}); the archive cannot be decrypted`);
  if (end < 0 || end > 4096) throw bad("no end of header");
  let header: Header;
  try {
    header = JSON.parse(Buffer.from(data.subarray(ENCRYPTED_MAGIC.length, end)).toString("utf8")) as Header;
  } catch {
    throw bad("not JSON");
  }
  const pow2 = (n: number) => Number.isInteger(n) && n >= 2 && n <= 1 << 20 && (n & (n - 1)) === 0;
  if (header.kdf !== "scrypt" || !pow2(header.N) || !Number.isInteger(header.r) || header.r < 1 || header.r > 32 || !Number.isInteger(header.p) || header.p < 1 || header.p > 16)
    throw bad("unknown key derivation or parameters out of range");
  if (Buffer.from(header.iv ?? "", "base64").length !== 12 || Buffer.from(header.salt ?? "", "base64").length < 16) throw bad("salt or nonce of the wrong size");
  return { header, headLength: end + 1 };
}

export function decryptArchive(data: Uint8Array, passphrase: string, where: string): Uint8Array {
  const { header, headLength } = parseHeader(data, where);
  if (data.length < headLength + TAG_BYTES) throw new BackupArchiveError(`${where}: the archive is truncated (shorter than its encryption header and tag)`);
  const decipher = createDecipheriv("aes-256-gcm", deriveKey(passphrase, header), Buffer.from(header.iv, "base64"));
  decipher.setAAD(data.subarray(0, headLength));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(data.subarray(headLength, data.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new BackupArchiveError(
      `${where}: decryption failed: the passphrase is wrong, or the archive was changed or truncated since it was written (authentication tag mismatch)`,
    );
  }
}
