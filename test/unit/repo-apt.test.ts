// The apt flat repository writer against the real apt-get, served by the real depot as installed (HTTPS
// with the depot CA, InRelease signed with the cluster key) and read with the node's own source list and
// apt.conf.d file: index, signed Release hashes, dependency resolution, and refusal of what is not verified.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadDebs, resolveDebClosure, writeFlatRepo } from "../../src/bundle/apt.ts";
import { renderAptDepotConf, renderAptMirrors, renderAptSource } from "../../src/profiles/apt.ts";
import { startDepotServer, type DepotServer } from "../../src/depot/server.ts";
import { collectingLogger } from "./support/oci-fixture.ts";
import { generateRepoKey, type RepoKey } from "../../src/depot/repo-signing.ts";
import { NODE_DEPOT_CA, NODE_REPO_KEY_GPG } from "../../src/depot/trust-paths.ts";
import { depotTls, startInstalledDepot, type DepotTlsFixture } from "./support/depot-tls.ts";
import { isolatedAptOptions } from "./support/repo-tools.ts";

const PORT = 5210;
const URL_ = `https://127.0.0.1:${PORT}`;
const work = mkdtempSync(join(tmpdir(), "repo-apt-"));
const repo = join(work, "bundle/repo/debian12");
let depot: DepotServer | undefined;
let pki: DepotTlsFixture;
let repoKey: RepoKey;
const caFile = join(work, "depot-ca.crt");
const keyring = join(work, "depot-repo.gpg");

/** The depot signs the repositories it finds when it starts: (re)start it after a repository is added. */
async function restartDepot(): Promise<void> {
  await depot?.stop();
  depot = await startInstalledDepot(join(work, "bundle"), PORT, pki, repoKey.privateArmored);
}

async function sh(cmd: string[], cwd?: string): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" } });
  const [o, e, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: o + e };
}

/** A real .deb built with dpkg-deb. */
async function buildDeb(name: string, version: string, depends?: string): Promise<void> {
  const root = join(work, `src-${name}`);
  mkdirSync(join(root, "DEBIAN"), { recursive: true });
  mkdirSync(join(root, "usr/share", name), { recursive: true });
  writeFileSync(join(root, "usr/share", name, "hello"), `${name} ${version}\n`);
  writeFileSync(
    join(root, "DEBIAN/control"),
    [`Package: ${name}`, `Version: ${version}`, "Architecture: all", "Maintainer: lab <lab@example.invalid>", ...(depends ? [`Depends: ${depends}`] : []), "Description: test package", " for the depot's apt repository", ""].join("\n"),
  );
  const r = await sh(["dpkg-deb", "--root-owner-group", "--build", root, join(repo, `${name}_${version}_all.deb`)]);
  if (r.code !== 0) throw new Error(r.out);
}

/**
 * apt-get isolated from the system: its own sources, lists, cache and an empty dpkg status. The source list,
 * mirror list and apt.conf.d file are the node's, with the keyring, CA and mirror list at this test's paths;
 * withCa false leaves the CA setting out (a node the trust phase has not reached).
 */
function aptArgs(state: string, profile = "debian12", withCa = true, depots = [URL_]): string[] {
  const isolated = isolatedAptOptions(state);
  writeFileSync(join(state, "mirrors"), renderAptMirrors(depots, profile));
  writeFileSync(join(state, "sources.list"), renderAptSource(join(state, "mirrors")).replace(NODE_REPO_KEY_GPG, keyring));
  writeFileSync(join(state, "depot.conf"), withCa ? renderAptDepotConf(depots).replaceAll(NODE_DEPOT_CA, caFile) : "");
  return ["-c", join(state, "depot.conf"), ...isolated];
}

beforeAll(async () => {
  mkdirSync(repo, { recursive: true });
  await buildDeb("depot-lib", "1.0-1");
  await buildDeb("depot-app", "2:2.5-3", "depot-lib (>= 1.0)");
  await writeFlatRepo(repo, { label: "test", date: new Date("2021-09-15T00:00:00Z") });
  pki = await depotTls();
  writeFileSync(caFile, pki.caPem);
  repoKey = await generateRepoKey("lab");
  writeFileSync(keyring, repoKey.publicBinary);
  await restartDepot();
}, 60_000);
afterAll(async () => {
  await depot?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("apt flat repository", () => {
  test("Packages carries each deb's control fields, epoch included, with Filename, Size and SHA256", () => {
    const packages = readFileSync(join(repo, "Packages"), "utf8");
    const stanzas = packages.trim().split("\n\n");
    expect(stanzas).toHaveLength(2);
    const app = stanzas.find((s) => s.startsWith("Package: depot-app"))!;
    expect(app).toContain("Version: 2:2.5-3");
    expect(app).toContain("Depends: depot-lib (>= 1.0)");
    expect(app).toContain("Filename: ./depot-app_2:2.5-3_all.deb");
    expect(app).toMatch(/\nSHA256: [0-9a-f]{64}\n/);
    expect(app).toMatch(/Description: test package\n for the depot's apt repository$/);
  });

  test("apt-get update accepts it (TLS and InRelease verified, no warning) and install resolves the dependency from the depot", async () => {
    const args = aptArgs(join(work, "state1"));
    const upd = await sh(["apt-get", ...args, "update"]);
    expect(upd.out).not.toContain("W:");
    expect(upd.out).toMatch(/Get:2 https:\/\/127\.0\.0\.1:\d+\/repo\/debian12 \.\/ InRelease/);
    expect(upd.code).toBe(0);
    const inst = await sh(["apt-get", ...args, "-y", "--download-only", "install", "depot-app"]);
    expect(inst.code).toBe(0);
    expect(readdirSync(join(work, "state1/archives")).filter((f) => f.endsWith(".deb")).sort()).toEqual([
      "depot-app_2%3a2.5-3_all.deb",
      "depot-lib_1.0-1_all.deb",
    ]);
  });

  test("without the depot CA, or with another repository key, apt refuses the depot", async () => {
    const noCa = await sh(["apt-get", ...aptArgs(join(work, "state-noca"), "debian12", false), "-o", "Acquire::Retries=0", "update"]);
    expect(noCa.out).toMatch(/certificate|SSL|TLS/i);
    expect(noCa.out).not.toMatch(/Get:\d+ https/);
    const other = await generateRepoKey("someone-else");
    const args = aptArgs(join(work, "state-otherkey"));
    writeFileSync(join(work, "state-otherkey", "sources.list"), renderAptSource(join(work, "state-otherkey", "mirrors")).replace(NODE_REPO_KEY_GPG, join(work, "other.gpg")));
    writeFileSync(join(work, "other.gpg"), other.publicBinary);
    const wrongKey = await sh(["apt-get", ...args, "update"]);
    expect(wrongKey.out).toMatch(/NO_PUBKEY|not signed|signatures couldn't be verified/);
    const inst = await sh(["apt-get", ...args, "-y", "--download-only", "install", "depot-app"]);
    expect(inst.code).not.toBe(0);
  }, 60_000);

  test("with the first depot stopped, apt-get update and install take everything from the second (the mirror list's next entry)", async () => {
    // master1's depot (127.0.0.1) stopped, master2's (127.0.0.2) serving the same bundle, as installed.
    const first = await startInstalledDepot(join(work, "bundle"), PORT + 1, pki, repoKey.privateArmored);
    await first.stop();
    const second = await startDepotServer({ bundleDir: join(work, "bundle"), listen: { address: "127.0.0.2", port: PORT }, log: collectingLogger(), threads: 1, tls: pki.tls, repoKey: repoKey.privateArmored });
    try {
      const state = join(work, "state-failover");
      const args = aptArgs(state, "debian12", true, [first.url, second.url]);
      const started = performance.now();
      const upd = await sh(["apt-get", ...args, "update"]);
      expect(upd.code).toBe(0);
      expect(upd.out).not.toMatch(/^(E|W):/m);
      expect(upd.out).toMatch(/Get:\d+ https:\/\/127\.0\.0\.2:\d+\/repo\/debian12 \.\/ InRelease/);
      const inst = await sh(["apt-get", ...args, "-y", "--download-only", "install", "depot-app"]);
      expect(inst.code).toBe(0);
      expect(readdirSync(join(state, "archives")).filter((f) => f.endsWith(".deb")).sort()).toEqual(["depot-app_2%3a2.5-3_all.deb", "depot-lib_1.0-1_all.deb"]);
      // One refused connection per file, not apt's retries with back-off (Acquire::Retries "0" with several depots).
      expect(performance.now() - started).toBeLessThan(5_000);
      // Nothing can have come from the first: nothing listens there.
      expect(await fetch(`${first.url}/v2/`, { tls: { ca: pki.caPem } }).then(() => "answered", () => "down")).toBe("down");
    } finally {
      await second.stop();
    }
  }, 60_000);

  test("a Packages.gz that does not match Release is refused by apt", async () => {
    const gz = join(repo, "Packages.gz");
    const good = readFileSync(gz);
    const bad = Buffer.from(good);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    writeFileSync(gz, bad);
    try {
      const upd = await sh(["apt-get", ...aptArgs(join(work, "state2")), "update"]);
      expect(upd.out).toContain("Hash Sum mismatch");
      expect(upd.code).not.toBe(0);
    } finally {
      writeFileSync(gz, good);
    }
  });

  test("a resolved closure is self-sufficient: apt on an empty system installs the wanted package from the depot alone", async () => {
    // The closure rule of apt.ts (resolve against an empty status) with Debian's real packages.
    const closure = await resolveDebClosure(["socat"]);
    const dir = join(work, "bundle/repo/closure");
    await downloadDebs(closure, dir);
    await writeFlatRepo(dir, { label: "closure" });
    await restartDepot();
    const args = aptArgs(join(work, "state3"), "closure");
    expect((await sh(["apt-get", ...args, "update"])).code).toBe(0);
    const sim = await sh(["apt-get", ...args, "-s", "install", "socat"]);
    expect(sim.code).toBe(0);
    // The isolated apt knows no other source, so every package it plans came from the depot.
    const planned = [...sim.out.matchAll(/^Inst (\S+) \((\S+) /gm)].map((m) => `${m[1]}=${m[2]}`).sort();
    expect(planned).toEqual(closure.map((e) => `${e.name}=${e.version}`).sort());
  }, 180_000);
});
