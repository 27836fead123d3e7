// The cluster's repository signing key judged by the real verifiers a node runs: gpgv (apt's verifier),
// apt-get update against a `signed-by=` flat repository, and dnf with repo_gpgcheck=1. Each also has to
// refuse a repository signed by another key and one whose contents were changed after signing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { writeFlatRepo } from "../../src/bundle/apt.ts";
import { generateRepoKey, loadRepoKey, repoKeyUserId, type RepoKey, type RepoSigner } from "../../src/depot/repo-signing.ts";
import { isolatedAptOptions, runTool, tinyDeb, tinyRpm } from "./support/repo-tools.ts";

const work = mkdtempSync(join(tmpdir(), "repo-signing-"));
const gnupgHome = join(work, "gnupg"); // gpg and gpgv never touch root's ~/.gnupg
let ours: RepoKey;
let other: RepoKey;
let signer: RepoSigner;
let otherSigner: RepoSigner;
let deb = "";
let rpm = "";
const keyring = (k: RepoKey) => join(work, k === ours ? "ours.gpg" : "other.gpg");
const armoredKey = join(work, "ours.asc");

beforeAll(async () => {
  mkdirSync(gnupgHome, { mode: 0o700 });
  [ours, other] = await Promise.all([generateRepoKey("lab"), generateRepoKey("someone-else")]);
  [signer, otherSigner] = await Promise.all([loadRepoKey(ours.privateArmored), loadRepoKey(other.privateArmored)]);
  writeFileSync(keyring(ours), ours.publicBinary);
  writeFileSync(keyring(other), other.publicBinary);
  writeFileSync(armoredKey, ours.publicArmored);
  deb = await tinyDeb(work, work, "signed-hello", "1.0-1");
  rpm = await tinyRpm(work, "signed-hello", "1.0", "1");
}, 60_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What the depot will do for apt: a flat repository over the deb, Release signed both ways apt reads. */
async function signedFlatRepo(name: string, by: RepoSigner | null): Promise<string> {
  const dir = join(work, "apt", name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(deb, join(dir, "signed-hello_1.0-1_all.deb"));
  await writeFlatRepo(dir, { label: "signing test" });
  if (by) {
    const release = readFileSync(join(dir, "Release"));
    writeFileSync(join(dir, "InRelease"), await by.clearsign(release.toString()));
    writeFileSync(join(dir, "Release.gpg"), await by.detachSign(release, false));
  }
  return dir;
}

const gpgv = (ring: string, ...files: string[]) => runTool(["gpgv", "--homedir", gnupgHome, "--keyring", ring, ...files]);

/** apt-get isolated from the system, reading only this repository with this keyring. */
function aptArgs(repo: string, ring: string): string[] {
  const state = join(work, "apt-state", repo.split("/").pop()!);
  const options = isolatedAptOptions(state);
  writeFileSync(join(state, "sources.list"), `deb [signed-by=${ring}] file:${repo} ./\n`);
  return options;
}

describe("the repository signing key", () => {
  test("is a v4 RSA 3072 signing key with the cluster's user id, no subkey and no passphrase, as gpg reads it", async () => {
    const shown = await runTool(["gpg", "--homedir", gnupgHome, "--with-colons", "--show-keys", keyring(ours)]);
    expect(shown.code).toBe(0);
    const records = shown.out.split("\n").map((l) => l.split(":"));
    const pub = records.filter((r) => r[0] === "pub");
    expect(pub).toHaveLength(1);
    expect(pub[0]![2]).toBe("3072"); // bits
    expect(pub[0]![3]).toBe("1"); // RSA
    expect(pub[0]![11]).toContain("s"); // may sign
    expect(records.filter((r) => r[0] === "sub")).toEqual([]);
    expect(records.find((r) => r[0] === "fpr")![9]).toBe(ours.fingerprint);
    expect(ours.fingerprint).toMatch(/^[0-9A-F]{40}$/); // 40 hex digits: a v4 fingerprint (v6 has 64)
    expect(records.find((r) => r[0] === "uid")![9]).toBe(repoKeyUserId("lab"));
    expect(ours.privateArmored).toStartWith("-----BEGIN PGP PRIVATE KEY BLOCK-----");
    expect(signer.fingerprint).toBe(ours.fingerprint);
    expect(other.fingerprint).not.toBe(ours.fingerprint);
    // The armored public key is the same key as the binary one.
    const armored = await runTool(["gpg", "--homedir", gnupgHome, "--with-colons", "--show-keys", armoredKey]);
    expect(armored.out).toContain(`fpr:::::::::${ours.fingerprint}:`);
  });

  test("a passphrase-protected copy is refused with the reason, not asked for a passphrase", async () => {
    const openpgp = await import("openpgp");
    const privateKey = await openpgp.readPrivateKey({ armoredKey: ours.privateArmored });
    const locked = await openpgp.encryptKey({ privateKey, passphrase: "secret" });
    await expect(loadRepoKey(locked.armor())).rejects.toThrow(/passphrase-protected/);
  });
});

describe("the apt signatures under gpgv (and gpg), with the binary public key as keyring", () => {
  let repo = "";
  beforeAll(async () => {
    repo = await signedFlatRepo("gpgv", signer);
  }, 30_000);

  test("accepts InRelease and Release.gpg", async () => {
    const inRelease = await gpgv(keyring(ours), join(repo, "InRelease"));
    expect(inRelease.out).toContain(`Good signature from "${repoKeyUserId("lab")}"`);
    expect(inRelease.code).toBe(0);
    const detached = await gpgv(keyring(ours), join(repo, "Release.gpg"), join(repo, "Release"));
    expect(detached.out).toContain("Good signature");
    expect(detached.code).toBe(0);
  });

  test("refuses a Release or InRelease with one byte changed", async () => {
    const release = readFileSync(join(repo, "Release"), "utf8");
    const tampered = join(work, "Release.tampered");
    writeFileSync(tampered, release.replace("Label: signing test", "Label: signing tesT"));
    const detached = await gpgv(keyring(ours), join(repo, "Release.gpg"), tampered);
    expect(detached.out).toContain("BAD signature");
    expect(detached.code).not.toBe(0);

    const inRelease = join(work, "InRelease.tampered");
    writeFileSync(inRelease, readFileSync(join(repo, "InRelease"), "utf8").replace("Label: signing test", "Label: signing tesT"));
    const clear = await gpgv(keyring(ours), inRelease);
    expect(clear.out).toContain("BAD signature");
    expect(clear.code).not.toBe(0);
  });

  test("are accepted by a node whose clock lags master1's by hours (chrony not set up yet), not by days", async () => {
    // gpgv has no clock override; gpg (what dnf's gpgme runs) applies the same "created in the future" rule.
    const verifyAt = (hoursBehind: number) =>
      runTool([
        "gpg", "--homedir", gnupgHome, "--no-default-keyring", "--keyring", keyring(ours),
        "--faked-system-time", `${Math.floor(Date.now() / 1000 - hoursBehind * 3600)}!`, "--verify", join(repo, "InRelease"),
      ]);
    const behind = await verifyAt(12);
    expect(behind.out).toContain("Good signature");
    expect(behind.code).toBe(0);
    const farBehind = await verifyAt(48);
    expect(farBehind.out).toContain("in the future");
    expect(farBehind.code).not.toBe(0);
  });

  test("refuses the signatures against another cluster's key", async () => {
    const r = await gpgv(keyring(other), join(repo, "InRelease"));
    expect(r.out).toMatch(/No public key|NO_PUBKEY/);
    expect(r.code).not.toBe(0);
  });
});

describe("apt-get update with signed-by= on a flat repository", () => {
  test("accepts the signed repository without any unsigned warning, and sees its package", async () => {
    const repo = await signedFlatRepo("good", signer);
    const args = aptArgs(repo, keyring(ours));
    const upd = await runTool(["apt-get", ...args, "update"]);
    expect(upd.out).not.toMatch(/unsigned|not signed|NO_PUBKEY|GPG error|^[WE]:/im);
    expect(upd.code).toBe(0);
    const lists = readdirSync(join(work, "apt-state/good/lists"));
    expect(lists.some((f) => f.endsWith("_InRelease"))).toBe(true);
    const sim = await runTool(["apt-get", ...args, "-s", "install", "signed-hello"]);
    expect(sim.out).toContain("Inst signed-hello (1.0-1");
    expect(sim.code).toBe(0);
  }, 60_000);

  test("refuses a repository signed with another key", async () => {
    const repo = await signedFlatRepo("other-key", otherSigner);
    const upd = await runTool(["apt-get", ...aptArgs(repo, keyring(ours)), "update"]);
    expect(upd.out).toMatch(/NO_PUBKEY|is not signed/);
    expect(upd.code).not.toBe(0);
  }, 60_000);

  test("refuses a repository that is not signed at all", async () => {
    const repo = await signedFlatRepo("unsigned", null);
    const upd = await runTool(["apt-get", ...aptArgs(repo, keyring(ours)), "update"]);
    expect(upd.out).toContain("is not signed");
    expect(upd.code).not.toBe(0);
  }, 60_000);

  test("refuses a Packages index changed after signing (hash sum mismatch)", async () => {
    const repo = await signedFlatRepo("tampered", signer);
    const packages = readFileSync(join(repo, "Packages"), "utf8").replace("Version: 1.0-1", "Version: 1.0-2");
    writeFileSync(join(repo, "Packages"), packages);
    writeFileSync(join(repo, "Packages.gz"), gzipSync(packages));
    const upd = await runTool(["apt-get", ...aptArgs(repo, keyring(ours)), "update"]);
    expect(upd.out).toMatch(/Hash Sum mismatch/i);
    expect(upd.code).not.toBe(0);
  }, 60_000);
});

describe("dnf with repo_gpgcheck=1 on createrepo_c metadata", () => {
  let unsigned = "";
  beforeAll(async () => {
    unsigned = join(work, "yum/unsigned");
    mkdirSync(unsigned, { recursive: true });
    copyFileSync(rpm, join(unsigned, "signed-hello-1.0-1.noarch.rpm"));
    const r = await runTool(["createrepo_c", "--quiet", unsigned]);
    if (r.code !== 0) throw new Error(r.out);
  }, 60_000);

  /** A copy of the repository whose repomd.xml.asc is made by `by` (after `tamper` changed repomd.xml). */
  async function signedYumRepo(name: string, by: RepoSigner, tamper?: (repomd: string) => string): Promise<string> {
    const dir = join(work, "yum", name);
    cpSync(unsigned, dir, { recursive: true });
    const repomdPath = join(dir, "repodata/repomd.xml");
    const repomd = readFileSync(repomdPath);
    writeFileSync(join(dir, "repodata/repomd.xml.asc"), await by.detachSign(repomd, true));
    if (tamper) writeFileSync(repomdPath, tamper(repomd.toString()));
    return dir;
  }

  /** dnf, in its own installroot, installing the package from this one repository. */
  function dnfInstall(name: string, repo: string) {
    const reposdir = join(work, "yum.repos.d", name);
    mkdirSync(reposdir, { recursive: true });
    writeFileSync(
      join(reposdir, "signed.repo"),
      ["[signed]", "name=signed test repository", `baseurl=file://${repo}`, "enabled=1", "gpgcheck=0", "repo_gpgcheck=1", `gpgkey=file://${armoredKey}`, "skip_if_unavailable=0", ""].join("\n"),
    );
    const root = join(work, "installroot", name);
    const cmd = ["dnf", "-y", "--installroot", root, "--releasever", "9", "--setopt", `reposdir=${reposdir}`, "--setopt", "install_weak_deps=False", "install", "signed-hello"];
    return { root, run: runTool(cmd) };
  }

  test("installs from metadata signed with the cluster key", async () => {
    const { root, run } = dnfInstall("good", await signedYumRepo("good", signer));
    const r = await run;
    // dnf fetched the key named by gpgkey= and checked repomd.xml against it before using the metadata.
    expect(r.out.match(/Fingerprint: (.+)/)?.[1]?.replace(/ /g, "")).toBe(ours.fingerprint);
    expect(r.out).toContain("Complete!");
    expect(r.code).toBe(0);
    expect(readFileSync(join(root, "usr/share/signed-hello/hello"), "utf8")).toBe("signed-hello 1.0\n");
  }, 120_000);

  test("refuses metadata signed with another key", async () => {
    const r = await dnfInstall("other-key", await signedYumRepo("other-key", otherSigner)).run;
    expect(r.out).toContain("repomd.xml GPG signature verification error: Bad GPG signature");
    expect(r.out).not.toContain("Complete!");
    expect(r.code).not.toBe(0);
  }, 120_000);

  test("refuses a repomd.xml changed after signing", async () => {
    const r = await dnfInstall("tampered", await signedYumRepo("tampered", signer, (x) => x.replace("<revision>", "<revision>1"))).run;
    expect(r.out).toContain("repomd.xml GPG signature verification error: Bad GPG signature");
    expect(r.code).not.toBe(0);
  }, 120_000);
});
