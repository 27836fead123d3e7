// OpenSSH known_hosts: reading (plain, wildcard, negated and hashed host patterns; @revoked),
// deciding whether a presented host key is known, new or changed, and writing new entries in
// the same format `ssh` writes, so the operator's file stays usable by OpenSSH and vice versa.
import { createHash, createHmac } from "node:crypto";

export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  line: number;
  revoked: boolean;
  patterns: string;
  keyType: string;
  /** base64 key blob */
  key: string;
}

export type HostKeyVerdict =
  | { kind: "known" }
  | { kind: "unknown" }
  | { kind: "changed"; entry: KnownHostEntry }
  | { kind: "revoked"; entry: KnownHostEntry }
  /** The host is known, but only with key types it did not present. */
  | { kind: "other-types"; types: string[] };

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith("#")) return;
    const marker = fields[0].startsWith("@") ? fields.shift() : undefined;
    // CA lines certify other keys; we do not use host certificates, so they never match.
    if (marker === "@cert-authority" || fields.length < 3) return;
    entries.push({ line: i + 1, revoked: marker === "@revoked", patterns: fields[0]!, keyType: fields[1]!, key: fields[2]! });
  });
  return entries;
}

/** How OpenSSH names a host in known_hosts: bare for port 22, `[addr]:port` otherwise. */
export const knownHostsName = (address: string, port: number) => (port === 22 ? address : `[${address}]:${port}`);

const globToRegExp = (glob: string) =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");

function hashedMatches(pattern: string, name: string): boolean {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  const [, , salt, hash] = pattern.split("|");
  if (!salt || !hash) return false;
  return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
}

export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith("|1|")) return hashedMatches(patterns, name);
  let matched = false;
  for (const p of patterns.split(",")) {
    const negated = p.startsWith("!");
    if (globToRegExp(negated ? p.slice(1) : p).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOf(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString("latin1");
}

/** OpenSSH's fingerprint format, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s */
export const fingerprint = (blob: Buffer) => `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;

export const entryFingerprint = (e: KnownHostEntry) => fingerprint(Buffer.from(e.key, "base64"));

const entriesFor = (entries: KnownHostEntry[], name: string) => entries.filter((e) => patternsMatch(e.patterns, name));

/** Key types known for a host (not revoked), to ask the server for those first. */
export function knownKeyTypes(entries: KnownHostEntry[], address: string, port: number): string[] {
  return [...new Set(entriesFor(entries, knownHostsName(address, port)).filter((e) => !e.revoked).map((e) => e.keyType))];
}

export function verifyHostKey(entries: KnownHostEntry[], address: string, port: number, blob: Buffer): HostKeyVerdict {
  const mine = entriesFor(entries, knownHostsName(address, port));
  const key = blob.toString("base64");
  const revoked = mine.find((e) => e.revoked && e.key === key);
  if (revoked) return { kind: "revoked", entry: revoked };
  const valid = mine.filter((e) => !e.revoked);
  if (valid.some((e) => e.key === key)) return { kind: "known" };
  const type = keyTypeOf(blob);
  const sameType = valid.find((e) => e.keyType === type);
  if (sameType) return { kind: "changed", entry: sameType };
  if (valid.length) return { kind: "other-types", types: [...new Set(valid.map((e) => e.keyType))] };
  return { kind: "unknown" };
}

/** A known_hosts line recording this key for this host. */
export const knownHostsLine = (address: string, port: number, blob: Buffer) =>
  `${knownHostsName(address, port)} ${keyTypeOf(blob)} ${blob.toString("base64")}\n`;
