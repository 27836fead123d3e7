// The IPv4 arithmetic and "did you mean" behind the config checks.
import { expect, test } from "bun:test";
import { cidrContains, cidrsOverlap, formatIPv4, parseCidr, parseIPv4 } from "../../src/config/net.ts";
import { closest, editDistance } from "../../src/config/suggest.ts";

test("parseIPv4 takes strict dotted quads only", () => {
  expect(parseIPv4("192.168.217.19")).toBe(0xc0a8d913);
  expect(formatIPv4(parseIPv4("255.255.255.255")!)).toBe("255.255.255.255");
  expect(formatIPv4(parseIPv4("0.0.0.0")!)).toBe("0.0.0.0");
  for (const bad of ["192.168.217.300", "192.168.217", "192.168.217.019", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ", "a.b.c.d", "1..2.3", "", "0x7f.0.0.1"])
    expect(parseIPv4(bad)).toBeUndefined();
});

test("CIDRs: network address required, containment and overlap", () => {
  expect(parseCidr("10.244.1.0/16")).toBeUndefined();
  expect(parseCidr("10.244.0.0/33")).toBeUndefined();
  const pod = parseCidr("10.244.0.0/16")!;
  const svc = parseCidr("10.96.0.0/12")!;
  expect(cidrContains(pod, parseIPv4("10.244.255.255")!)).toBe(true);
  expect(cidrContains(pod, parseIPv4("10.245.0.0")!)).toBe(false);
  expect(cidrContains(svc, parseIPv4("10.111.255.1")!)).toBe(true);
  expect(cidrContains(svc, parseIPv4("10.112.0.1")!)).toBe(false);
  expect(cidrsOverlap(pod, svc)).toBe(false);
  expect(cidrsOverlap(parseCidr("10.0.0.0/8")!, pod)).toBe(true);
  expect(cidrsOverlap(pod, parseCidr("10.244.128.0/17")!)).toBe(true);
  expect(cidrsOverlap(parseCidr("0.0.0.0/0")!, pod)).toBe(true);
});

test("closest: typos, other spellings and extensions of a key, nothing for strangers", () => {
  const keys = ["vip", "interface", "port", "virtualRouterId", "vrrpMode", "authPass", "nopreempt", "statsPort"];
  expect(closest("virtual_router_id", keys)).toBe("virtualRouterId");
  expect(closest("intreface", keys)).toBe("interface");
  expect(closest("prot", keys)).toBe("port");
  expect(closest("vrrp", keys)).toBe("vrrpMode");
  expect(closest("stateDirectory", ["stateDir", "name"])).toBe("stateDir");
  expect(closest("bananas", keys)).toBeUndefined();
  expect(closest("x".repeat(10_000), keys)).toBeUndefined();
});

test("editDistance counts insertions, deletions, substitutions and neighbour swaps as one edit each", () => {
  expect(editDistance("port", "port")).toBe(0);
  expect(editDistance("prot", "port")).toBe(1);
  expect(editDistance("por", "port")).toBe(1);
  expect(editDistance("pork", "port")).toBe(1);
  expect(editDistance("kitten", "sitting")).toBe(3);
  expect(editDistance("", "abc")).toBe(3);
});
