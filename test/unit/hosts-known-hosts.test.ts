// known_hosts matching rules, checked against files OpenSSH's own ssh-keygen writes.
import { test, expect, beforeAll, afterAll } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fingerprint, knownHostsLine, knownKeyTypes, parseKnownHosts, patternsMatch, verifyHostKey } from "../../src/hosts/known-hosts.ts";

let dir: string;
const blobs: Record<string, Buffer> = {};
const sh = (cmd: string) => Bun.spawnSync(["sh", "-c", cmd]).stdout.toString();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "known-hosts-"));
  for (const [name, type] of [["ed1", "ed25519"], ["ed2", "ed25519"], ["rsa", "rsa"]]) {
    sh(`ssh-keygen -q -t ${type} -N '' -f ${dir}/${name}`);
    blobs[name] = Buffer.from(readFileSync(`${dir}/${name}.pub`, "utf8").split(" ")[1]!, "base64");
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("host patterns: lists, wildcards, negation, [host]:port", () => {
  expect(patternsMatch("10.0.0.1,master1", "master1")).toBe(true);
  expect(patternsMatch("10.0.0.*", "10.0.0.7")).toBe(true);
  expect(patternsMatch("10.0.0.?", "10.0.0.17")).toBe(false);
  expect(patternsMatch("10.0.0.*,!10.0.0.5", "10.0.0.5")).toBe(false);
  expect(patternsMatch("[10.0.0.1]:2222", "[10.0.0.1]:2222")).toBe(true);
  expect(patternsMatch("10.0.0.1", "[10.0.0.1]:2222")).toBe(false);
  expect(patternsMatch("10.0.0.10", "10.0.0.1")).toBe(false);
});

test("hashed names written by ssh-keygen -H match only their host", () => {
  writeFileSync(`${dir}/kh`, knownHostsLine("192.168.217.19", 22, blobs.ed1!) + knownHostsLine("192.168.217.20", 2222, blobs.ed2!));
  sh(`ssh-keygen -q -H -f ${dir}/kh 2>/dev/null`);
  const entries = parseKnownHosts(readFileSync(`${dir}/kh`, "utf8"));
  expect(entries.map((e) => e.patterns.startsWith("|1|"))).toEqual([true, true]);
  expect(verifyHostKey(entries, "192.168.217.19", 22, blobs.ed1!)).toEqual({ kind: "known" });
  expect(verifyHostKey(entries, "192.168.217.20", 2222, blobs.ed2!)).toEqual({ kind: "known" });
  expect(verifyHostKey(entries, "192.168.217.20", 22, blobs.ed2!)).toEqual({ kind: "unknown" });
});

test("verdicts: known, unknown, changed, other key types only, revoked", () => {
  const entries = parseKnownHosts(
    [
      "# operator's file",
      "",
      knownHostsLine("10.0.0.1", 22, blobs.ed1!).trim(),
      knownHostsLine("10.0.0.2", 22, blobs.rsa!).trim(),
      `@cert-authority *.example ${readFileSync(`${dir}/ed2.pub`, "utf8").split(" ").slice(0, 2).join(" ")}`,
      `@revoked 10.0.0.3 ${readFileSync(`${dir}/ed2.pub`, "utf8").split(" ").slice(0, 2).join(" ")}`,
    ].join("\n"),
  );
  expect(verifyHostKey(entries, "10.0.0.1", 22, blobs.ed1!)).toEqual({ kind: "known" });
  expect(verifyHostKey(entries, "10.0.0.9", 22, blobs.ed1!)).toEqual({ kind: "unknown" });
  const changed = verifyHostKey(entries, "10.0.0.1", 22, blobs.ed2!);
  expect(changed.kind === "changed" && changed.entry.line).toBe(3);
  expect(verifyHostKey(entries, "10.0.0.2", 22, blobs.ed1!)).toEqual({ kind: "other-types", types: ["ssh-rsa"] });
  expect(verifyHostKey(entries, "10.0.0.3", 22, blobs.ed2!).kind).toBe("revoked");
  // CA lines certify other keys; a plain key matching one is not thereby known.
  expect(verifyHostKey(entries, "a.example", 22, blobs.ed2!)).toEqual({ kind: "unknown" });
  expect(knownKeyTypes(entries, "10.0.0.2", 22)).toEqual(["ssh-rsa"]);
});

test("fingerprints are the ones ssh-keygen -l prints", () => {
  for (const name of ["ed1", "rsa"]) expect(fingerprint(blobs[name]!)).toBe(sh(`ssh-keygen -lf ${dir}/${name}.pub`).split(" ")[1]!);
});
