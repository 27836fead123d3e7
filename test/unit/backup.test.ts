// The backup archive and what restore checks before it changes anything: encryption round trip,
// wrong passphrase, truncation, a flipped byte, another cluster's CAs — each refused with a clear
// message — and the CLI's exit codes for them (1 a bad archive, 2 bad usage), no node contacted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCa } from "../../src/pki/ca.ts";
import { packArchive, openArchive, certFingerprint, SNAPSHOT, type ArchiveEntry } from "../../src/ops/backup-archive.ts";
import { encryptArchive, decryptArchive } from "../../src/ops/backup-crypto.ts";
import { caFingerprintsOf, compareCas, nodeEntry, writeArchive, CA_FILES } from "../../src/ops/backup.ts";
import { preflightRestore, restoreMissingFiles } from "../../src/ops/restore.ts";
import { labCluster } from "./support/cluster-fixture.ts";
import { DirHost } from "./support/dir-host.ts";
import type { HostSpec } from "../../src/config/types.ts";

const dir = mkdtempSync(join(tmpdir(), "backup-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A snapshot-shaped payload (the real etcd round trip is backup-snapshot.test.ts).
const snapshot = new Uint8Array(8192).map((_, i) => i % 251);
const cas: Record<string, string> = {};
const otherCas: Record<string, string> = {};
const config = labCluster(join(dir, "state"));
const meta = () => ({
  cluster: "lab",
  created: "2026-12-01T00:00:00.000Z",
  caFingerprints: Object.fromEntries(CA_FILES.map((c) => [c.name, certFingerprint(cas[c.name]!)])),
  snapshot: { hash: 1, revision: 2, totalKey: 3, totalSize: 8160, member: "master1" },
});
const entries = (): ArchiveEntry[] => [
  { path: SNAPSHOT, data: snapshot, mode: 0o600 },
  ...CA_FILES.map((c) => ({ path: nodeEntry("master1", c.path), data: Buffer.from(cas[c.name]!), mode: 0o644 })),
  { path: "state/secrets.json", data: Buffer.from('{"token":"x"}\n'), mode: 0o600 },
];

beforeAll(async () => {
  for (const c of CA_FILES) {
    cas[c.name] = (await createCa({ commonName: `${c.name}-ca` })).certPem;
    otherCas[c.name] = (await createCa({ commonName: `${c.name}-ca` })).certPem;
  }
});

describe("archive", () => {
  test("plain round trip: manifest lists every file with its sha256; the archive opens to the same bytes", async () => {
    const { bytes, manifest } = await packArchive(meta(), entries());
    expect(manifest.files.map((f) => f.path)).toEqual(entries().map((e) => e.path));
    const opened = await openArchive(bytes, "a.tar");
    expect(opened.manifest).toEqual(manifest);
    expect(Buffer.from(opened.files.get(SNAPSHOT)!.data).equals(Buffer.from(snapshot))).toBe(true);
    expect(opened.files.get("state/secrets.json")!.mode).toBe(0o600);
  });

  test("encrypted round trip; the passphrase and the plaintext are nowhere in the file", async () => {
    const { bytes } = await packArchive(meta(), entries(), "correct horse");
    expect(Buffer.from(bytes).includes("correct horse")).toBe(false);
    expect(Buffer.from(bytes).includes('"token"')).toBe(false);
    const opened = await openArchive(bytes, "a.tar.enc", "correct horse");
    expect(opened.files.size).toBe(entries().length);
  });

  test("wrong passphrase, flipped byte, truncation of an encrypted archive: authentication fails", async () => {
    const { bytes } = await packArchive(meta(), entries(), "correct horse");
    await expect(openArchive(bytes, "a.tar.enc", "wrong")).rejects.toThrow(/a\.tar\.enc: decryption failed: the passphrase is wrong, or the archive was changed or truncated/);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 100]! ^= 0x01;
    await expect(openArchive(flipped, "a.tar.enc", "correct horse")).rejects.toThrow(/decryption failed/);
    await expect(openArchive(bytes.subarray(0, bytes.length - 1), "a.tar.enc", "correct horse")).rejects.toThrow(/decryption failed/);
    await expect(openArchive(bytes.subarray(0, 30), "a.tar.enc", "correct horse")).rejects.toThrow(/encryption header is damaged|truncated/);
    // The header's parameters are authenticated too.
    const header = Buffer.from(bytes);
    const at = header.indexOf('"N":32768');
    header.write('"N":16384', at);
    await expect(openArchive(header, "a.tar.enc", "correct horse")).rejects.toThrow(/decryption failed/);
    await expect(openArchive(bytes, "a.tar.enc")).rejects.toThrow(/is encrypted: give its passphrase with --passphrase-env/);
  });

  test("flipped byte and truncation of a plain archive: the manifest check names the file", async () => {
    const { bytes } = await packArchive(meta(), entries());
    const flipped = Buffer.from(bytes);
    const at = flipped.indexOf(Buffer.from('{"token"'));
    flipped[at + 3]! ^= 0x01;
    await expect(openArchive(flipped, "a.tar")).rejects.toThrow(/a\.tar failed its manifest check:\n\s+state\/secrets\.json: sha256 differs from the manifest/);
    await expect(openArchive(bytes.subarray(0, 3000), "a.tar")).rejects.toThrow(/a\.tar: (not a readable backup archive|failed its manifest check)/);
    await expect(openArchive(new Uint8Array(0), "empty.tar")).rejects.toThrow(/empty\.tar: (no manifest\.json inside|not a readable)/);
  });

  test("the key derivation's parameters are checked before any memory is spent", () => {
    const enc = Buffer.from(encryptArchive(Buffer.from("x"), "p", { N: 1 << 10, r: 8, p: 1 }));
    const bad = Buffer.from(enc.toString("latin1").replace('"N":1024', '"N":1000'), "latin1");
    expect(() => decryptArchive(bad, "p", "x.enc")).toThrow(/parameters out of range/);
    expect(Buffer.from(decryptArchive(enc, "p", "x.enc")).toString()).toBe("x");
  });

  test("written 0600 through a temporary name", () => {
    const out = join(dir, "written.tar");
    writeArchive(out, Buffer.from("abc"));
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out, "utf8")).toBe("abc");
  });
});

describe("restore's checks before any change", () => {
  const hosts = new Map<string, DirHost>();
  const ctxFor = () => ({
    config,
    host: async (s: HostSpec) => hosts.get(s.name)!,
    local: hosts.get("master1")!,
    stateDir: config.stateDir,
    log: { info() {}, warn() {}, error() {}, debug() {} } as never,
  });
  const putCas = (pems: Record<string, string>) => {
    for (const h of config.hosts) {
      const root = join(dir, "nodes", h.name);
      mkdirSync(root, { recursive: true });
      hosts.set(h.name, new DirHost(root, h.name, h.address));
      for (const c of CA_FILES) {
        if (c.on === "etcd" ? !h.roles.includes("etcd") : !h.roles.includes("control-plane")) continue;
        mkdirSync(join(root, c.path, ".."), { recursive: true });
        writeFileSync(join(root, c.path), pems[c.name]!);
      }
    }
  };

  test("the archive's CA fingerprints are master1's CAs", () => {
    const files = new Map(entries().map((e) => [e.path, e]));
    expect(caFingerprintsOf(files, { config })).toEqual(meta().caFingerprints);
  });

  test("another cluster's archive is refused, naming the nodes and files; nothing is written", async () => {
    putCas(otherCas);
    const { bytes } = await packArchive(meta(), entries());
    const opened = await openArchive(bytes, "other.tar");
    const rows = await compareCas(ctxFor(), opened.manifest);
    expect(rows.filter((r) => r.verdict === "differs").length).toBe(9);
    const before = hosts.get("master1")!.commands.filter((c) => !c.startsWith("readFile")).length;
    await expect(preflightRestore(ctxFor(), opened)).rejects.toThrow(/the archive's CAs are not this cluster's \(it is another cluster's backup\): master1 \/etc\/etcd\/pki\/ca\.crt .*Nothing was changed/);
    expect(hosts.get("master1")!.commands.filter((c) => !c.startsWith("readFile")).length).toBe(before);
  });

  test("an archive of another cluster name is refused", async () => {
    putCas(cas);
    const { bytes } = await packArchive({ ...meta(), cluster: "prod" }, entries());
    await expect(preflightRestore(ctxFor(), await openArchive(bytes, "prod.tar"))).rejects.toThrow(/the archive is of cluster "prod", the config's is "lab"/);
  });

  test("a node that lost its CA gets the archive's back; files present are never overwritten", async () => {
    putCas(cas);
    rmSync(join(dir, "nodes/master1/etc/kubernetes/pki/ca.crt"));
    writeFileSync(join(dir, "nodes/master1/etc/kubernetes/pki/front-proxy-ca.crt"), cas["front-proxy"]! + "# local\n");
    const { bytes } = await packArchive(meta(), entries());
    const opened = await openArchive(bytes, "lab.tar");
    const rows = await compareCas(ctxFor(), opened.manifest);
    expect(rows.find((r) => r.node === "master1" && r.ca === "kubernetes")!.verdict).toBe("missing");
    const written = await restoreMissingFiles(ctxFor(), opened);
    expect(written).toEqual(["master1:/etc/kubernetes/pki/ca.crt", `master1:${config.stateDir}/secrets.json`]);
    expect(readFileSync(join(dir, "nodes/master1/etc/kubernetes/pki/ca.crt"), "utf8")).toBe(cas.kubernetes!);
    expect(readFileSync(join(dir, "nodes/master1/etc/kubernetes/pki/front-proxy-ca.crt"), "utf8")).toEndWith("# local\n");
    expect(statSync(join(dir, "nodes/master1", config.stateDir, "secrets.json")).mode & 0o777).toBe(0o600);
  });
});

describe("CLI exit codes (no node is contacted)", () => {
  const CLI = join(import.meta.dir, "..", "..", "src", "cli.ts");
  const cfg = join(dir, "cluster.yaml");
  const cli = (args: string[], env: Record<string, string> = {}) => {
    const p = Bun.spawnSync([process.execPath, CLI, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: dir, env: { ...process.env, ...env } });
    return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
  };
  beforeAll(() => expect(cli(["init", "-o", cfg]).code).toBe(0));

  test("usage: unset passphrase variable, missing archive → 2", () => {
    let r = cli(["backup", "--passphrase-env", "NO_SUCH_VAR_K8S", "-c", cfg]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/the environment variable NO_SUCH_VAR_K8S is unset or empty/);
    r = cli(["restore", join(dir, "nope.tar"), "--yes", "-c", cfg]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/nope\.tar does not exist/);
    r = cli(["reset", "--node", "master2", "--yes", "-c", cfg]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/refusing to reset master2: master2 is one of 3 etcd members \(quorum 2\): resetting it would leave its member in etcd's list and the cluster one failure from losing quorum/);
  });

  test("bad archives → 1 with the reason, before any node is contacted", async () => {
    const { bytes } = await packArchive(meta(), entries(), "pw");
    writeFileSync(join(dir, "enc.tar"), bytes);
    writeFileSync(join(dir, "trunc.tar"), bytes.subarray(0, bytes.length - 10));
    let r = cli(["restore", join(dir, "enc.tar"), "--yes", "--passphrase-env", "BPW", "-c", cfg], { BPW: "wrong" });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/decryption failed: the passphrase is wrong/);
    expect(r.err).not.toMatch(/^\s+at /m);
    r = cli(["backup", "--verify", join(dir, "trunc.tar"), "--passphrase-env", "BPW", "-c", cfg], { BPW: "pw" });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/decryption failed/);
    writeFileSync(join(dir, "junk.tar"), "not an archive at all");
    r = cli(["restore", join(dir, "junk.tar"), "--yes", "-c", cfg]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/junk\.tar: (not a readable backup archive|no manifest\.json inside)/);
  });
});
