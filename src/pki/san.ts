// Subject alternative names: splitting host names from addresses and comparing them
// the way TLS does (IPs by value, DNS names case-insensitively).
import { isIP } from "node:net";

export interface SanSet {
  dnsNames: string[];
  ipAddresses: string[];
}

/** Canonical text of an IP address so "::1" equals "0:0:0:0:0:0:0:1" (Node prints the long form). */
export function canonicalIp(ip: string): string {
  if (isIP(ip) === 4) return ip;
  if (isIP(ip) !== 6) throw new Error(`not an IP address: ${ip}`);
  const [head = "", tail = ""] = ip.includes("::") ? ip.split("::") : [ip, ""];
  const part = (s: string) => (s === "" ? [] : s.split(":"));
  let h = part(head);
  let t = part(tail);
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
  const v4 = (groups: string[]) => {
    const last = groups.at(-1);
    if (last && isIP(last) === 4) {
      const o = last.split(".").map(Number);
      groups.splice(-1, 1, ((o[0]! << 8) | o[1]!).toString(16), ((o[2]! << 8) | o[3]!).toString(16));
    }
    return groups;
  };
  if (ip.includes("::")) t = v4(t);
  else h = v4(h);
  const zeros = Array(8 - h.length - t.length).fill("0");
  return [...h, ...zeros, ...t].map((g) => parseInt(g, 16).toString(16)).join(":");
}

/** Split a mixed list of names and addresses; duplicates removed, order kept. */
export function toSanSet(names: Iterable<string>): SanSet {
  const dns = new Map<string, string>();
  const ips = new Map<string, string>();
  for (const n of names) {
    if (isIP(n)) ips.set(canonicalIp(n), n);
    else dns.set(n.toLowerCase(), n);
  }
  return { dnsNames: [...dns.values()], ipAddresses: [...ips.values()] };
}

/** Names in `want` that `have` does not cover (exact match; wildcards are not used in this project). */
export function missingSans(have: SanSet, want: Iterable<string>): string[] {
  const dns = new Set(have.dnsNames.map((d) => d.toLowerCase()));
  const ips = new Set(have.ipAddresses.map(canonicalIp));
  return [...want].filter((n) => (isIP(n) ? !ips.has(canonicalIp(n)) : !dns.has(n.toLowerCase())));
}

/** Parse Node's X509Certificate.subjectAltName text ("DNS:a, IP Address:1.2.3.4"). */
export function parseNodeSanText(text: string | undefined): SanSet {
  const set: SanSet = { dnsNames: [], ipAddresses: [] };
  if (!text) return set;
  for (const entry of text.split(/,\s*/)) {
    const i = entry.indexOf(":");
    const kind = entry.slice(0, i);
    const value = entry.slice(i + 1);
    if (kind === "DNS") set.dnsNames.push(value);
    else if (kind === "IP Address") set.ipAddresses.push(value);
  }
  return set;
}
