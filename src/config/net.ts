// IPv4 arithmetic the config checks need (addresses as unsigned 32-bit numbers).

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
  text: string;
}

const QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

/** Strict dotted quad: four decimal octets 0-255, no leading zeros (they read as octal to some tools). */
export function parseIPv4(text: string): number | undefined {
  const m = QUAD.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return octets.reduce((n, o) => n * 256 + o, 0);
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1)) >>> 0;
}

/** Network part of an address for a prefix length. */
export function networkOf(addr: number, prefix: number): number {
  return (addr & maskOf(prefix)) >>> 0;
}

/** `a.b.c.d/n` with any address; parseCidr additionally requires the network address. */
export function parseCidrLoose(text: string): { addr: number; prefix: number } | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const addr = parseIPv4(text.slice(0, slash));
  const p = text.slice(slash + 1);
  if (addr === undefined || !/^(0|[1-9]\d?)$/.test(p) || Number(p) > 32) return undefined;
  return { addr, prefix: Number(p) };
}

export function parseCidr(text: string): Cidr | undefined {
  const c = parseCidrLoose(text);
  if (!c || networkOf(c.addr, c.prefix) !== c.addr) return undefined;
  return { base: c.addr, prefix: c.prefix, text };
}

export function cidrContains(c: Cidr, addr: number): boolean {
  return networkOf(addr, c.prefix) === c.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return networkOf(a.base, p) === networkOf(b.base, p);
}

/** Why no node or VIP can hold this address, or undefined when it is an ordinary unicast address. */
export function isUnusableAddress(addr: number): string | undefined {
  if (addr === 0) return "is the unspecified address";
  if (addr >= 0xe0000000 && addr < 0xf0000000) return "is a multicast address";
  if (addr >= 0xf0000000) return "is a reserved or broadcast address";
  return undefined;
}

export const isLoopback = (addr: number) => addr >>> 24 === 127;
