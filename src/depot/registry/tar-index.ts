// Walks the 512-byte headers of a tar file and records where each regular member's bytes are,
// so blobs can be served straight out of the archive by byte range (sendfile) without unpacking.
// Only headers are read: a multi-GB image archive is indexed in a few reads per member.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

export interface TarMember {
  /** Path inside the archive, without a leading "./". */
  name: string;
  /** Byte offset of the member's data inside the tar file. */
  offset: number;
  size: number;
}

export class TarFormatError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message} — the archive is not a valid tar (re-create it, e.g. re-run the bundle build)`);
    this.name = "TarFormatError";
  }
}

const BLOCK = 512;

/** Index every regular file of a (non-compressed) tar: name → data offset + size. Later members win, as with tar -x. */
export function indexTar(file: string): Map<string, TarMember> {
  const fd = openSync(file, "r");
  try {
    return walk(fd, file, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

function walk(fd: number, file: string, fileSize: number): Map<string, TarMember> {
  const members = new Map<string, TarMember>();
  const header = Buffer.alloc(BLOCK);
  let pos = 0;
  // Set by GNU 'L' or pax 'x' records; applies to the next header only.
  let longName: string | undefined;
  let paxSize: number | undefined;
  while (pos + BLOCK <= fileSize) {
    if (readSync(fd, header, 0, BLOCK, pos) !== BLOCK) throw new TarFormatError(file, `short read at byte ${pos}`);
    if (isZeroBlock(header)) break;
    if (!checksumMatches(header)) throw new TarFormatError(file, `bad header checksum at byte ${pos}`);
    const type = String.fromCharCode(header[156]!);
    const size = paxSize ?? parseNumber(header.subarray(124, 136), file, pos);
    const dataStart = pos + BLOCK;
    if (dataStart + size > fileSize) throw new TarFormatError(file, `member at byte ${pos} runs past the end of the file (truncated?)`);
    const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "L") {
      longName = readString(fd, dataStart, size).replace(/\0+$/, "");
    } else if (type === "x") {
      const pax = parsePax(readString(fd, dataStart, size));
      if (pax.path !== undefined) longName = pax.path;
      if (pax.size !== undefined) paxSize = pax.size;
      pos = next;
      continue; // keep paxSize for the following header
    } else if (type === "g") {
      // global pax header: nothing we need
    } else {
      const name = normalize(longName ?? ustarName(header));
      if ((type === "0" || type === "\0" || type === "7") && name !== "") {
        members.set(name, { name, offset: dataStart, size });
      }
      longName = undefined;
    }
    paxSize = undefined;
    pos = next;
  }
  return members;
}

function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

// The checksum field counts as spaces; some old writers used signed bytes, accept both.
function checksumMatches(b: Buffer): boolean {
  const stored = parseInt(cString(b.subarray(148, 156)).trim() || "-1", 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  return stored === unsigned || stored === signed;
}

function parseNumber(field: Buffer, file: string, pos: number): number {
  // GNU base-256 for sizes >= 8 GiB: high bit of the first byte set.
  if (field[0]! & 0x80) {
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = cString(field).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(file, `bad size field "${text}" at byte ${pos}`);
  return parseInt(text, 8);
}

function ustarName(b: Buffer): string {
  const name = cString(b.subarray(0, 100));
  const isUstar = b.subarray(257, 262).toString("latin1") === "ustar";
  const prefix = isUstar ? cString(b.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end === -1 ? b.length : end).toString("utf8");
}

function readString(fd: number, pos: number, size: number): string {
  const buf = Buffer.alloc(size);
  readSync(fd, buf, 0, size, pos);
  return buf.toString("utf8");
}

// pax records: "<len> <key>=<value>\n", len counts the whole record in bytes.
function parsePax(text: string): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  const bytes = Buffer.from(text, "utf8");
  let i = 0;
  while (i < bytes.length) {
    const space = bytes.indexOf(0x20, i);
    if (space === -1) break;
    const len = parseInt(bytes.subarray(i, space).toString("latin1"), 10);
    if (!(len > 0)) break;
    const record = bytes.subarray(space + 1, i + len - 1).toString("utf8");
    const eq = record.indexOf("=");
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1);
    if (key === "path") out.path = value;
    if (key === "size") out.size = Number(value);
    i += len;
  }
  return out;
}

function normalize(name: string): string {
  return name.replace(/^(\.\/)+/, "").replace(/^\/+/, "");
}
