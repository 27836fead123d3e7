// The depot as the nodes see it (issue 15): HTTPS only with the serving certificate from the depot PKI,
// trusted with the depot CA and refused without it, and the package repositories signed at start with the
// cluster's repository key (InRelease, Release.gpg, repomd.xml.asc) so that gpgv accepts them.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DepotServer } from "../../src/depot/server.ts";
import { generateRepoKey, repoKeyUserId, type RepoKey } from "../../src/depot/repo-signing.ts";
import { writeFixtureBundle } from "./support/oci-fixture.ts";
import { runTool } from "./support/repo-tools.ts";
import { depotTls, startInstalledDepot } from "./support/depot-tls.ts";

const PORT = 5136;
const BASE = `https://127.0.0.1:${PORT}`;
let dir: string;
let depot: DepotServer;
let key: RepoKey;
const ca = () => join(dir, "depot-ca.crt");
const RELEASE = "Origin: k8s-ha-offline\nLabel: test\nSHA256:\n 0123 12 Packages\n";
const REPOMD = '<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo"/>\n';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "depot-tls-"));
  const bundle = join(dir, "bundle");
  await writeFixtureBundle(bundle);
  writeFileSync(join(bundle, "repo", "debian12", "Release"), RELEASE);
  mkdirSync(join(bundle, "repo", "el9", "repodata"), { recursive: true });
  writeFileSync(join(bundle, "repo", "el9", "repodata", "repomd.xml"), REPOMD);
  // The certificate names the masters' addresses; 127.0.0.1 stands in as depot.address.
  const pki = await depotTls();
  writeFileSync(ca(), pki.caPem);
  key = await generateRepoKey("lab");
  writeFileSync(join(dir, "repo.gpg"), key.publicBinary);
  mkdirSync(join(dir, "gnupg"), { mode: 0o700 });
  depot = await startInstalledDepot(bundle, PORT, pki, key.privateArmored, 2);
}, 60_000);

afterAll(async () => {
  await depot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const curl = (...args: string[]) => runTool(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", ...args]);

async function fetchTo(path: string): Promise<string> {
  const out = join(dir, path.replaceAll("/", "_"));
  const r = await runTool(["curl", "-fsS", "--cacert", ca(), "-o", out, `${BASE}${path}`]);
  expect(r.out).toBe("");
  expect(r.code).toBe(0);
  return out;
}

describe("TLS", () => {
  test("a client with the depot CA gets an answer over HTTPS, from every serving thread", async () => {
    expect(depot.url).toBe(BASE);
    for (let i = 0; i < 6; i++) {
      const r = await curl("--cacert", ca(), `${BASE}/v2/`);
      expect(r.out).toBe("200");
    }
  });

  test("a client without the depot CA is refused (certificate not trusted)", async () => {
    const r = await curl("--capath", "/nonexistent", "--cacert", "/dev/null", `${BASE}/v2/`);
    expect(r.code).not.toBe(0);
    const fetched = await fetch(`${BASE}/v2/`).catch((e) => e as Error);
    expect(fetched).toBeInstanceOf(Error);
  });

  test("plain HTTP on the depot's port gets no answer", async () => {
    const r = await curl(`http://127.0.0.1:${PORT}/v2/`);
    expect(r.out).not.toBe("200");
  });

  test("a name the certificate does not carry is refused, with the right CA", async () => {
    const r = await curl("--cacert", ca(), "--resolve", `not-a-master:${PORT}:127.0.0.1`, `https://not-a-master:${PORT}/v2/`);
    expect(r.code).not.toBe(0);
  });
});

describe("signed repositories", () => {
  const gpgv = (...files: string[]) => runTool(["gpgv", "--homedir", join(dir, "gnupg"), "--keyring", join(dir, "repo.gpg"), ...files]);

  test("InRelease and Release.gpg next to Release verify with gpgv against the cluster key", async () => {
    const inRelease = await fetchTo("/repo/debian12/InRelease");
    const v1 = await gpgv(inRelease);
    expect(v1.out).toContain(`Good signature from "${repoKeyUserId("lab")}"`);
    expect(v1.code).toBe(0);
    const release = await fetchTo("/repo/debian12/Release");
    const v2 = await gpgv(await fetchTo("/repo/debian12/Release.gpg"), release);
    expect(v2.code).toBe(0);
  });

  test("repomd.xml.asc verifies repomd.xml; a changed repomd.xml does not verify", async () => {
    const sig = await fetchTo("/repo/el9/repodata/repomd.xml.asc");
    const repomd = await fetchTo("/repo/el9/repodata/repomd.xml");
    expect((await gpgv(sig, repomd)).code).toBe(0);
    writeFileSync(repomd, REPOMD.replace("repo", "rep0"));
    expect((await gpgv(sig, repomd)).code).not.toBe(0);
  });

  test("HEAD of a signature answers its length without a body", async () => {
    const r = await runTool(["curl", "-sSI", "--cacert", ca(), `${BASE}/repo/debian12/InRelease`]);
    expect(r.out).toMatch(/^HTTP\/1\.1 200/);
    expect(r.out).toMatch(/content-length: [1-9]\d+/i);
  });
});
