// Downloads on a node, run for real (LocalHost against a local HTTP server): the payload lands in a
// fresh 0700 root directory, is checked and used in one command, and the directory is gone after.
// Reproduces the review's /tmp race: an unprivileged user (nobody, through setpriv) pre-creates the
// old predictable path, a symlink there, and tries to reach the new directory during a download.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { LocalHost } from "../../src/hosts/local.ts";
import { HostError } from "../../src/hosts/host.ts";
import { bytesSha256 } from "../../src/hosts/sha256.ts";
import { DOWNLOAD_DIR, depotFile, fetchVerified, verifiedDownload } from "../../src/phases/util/depot-files.ts";
import { labCluster } from "./support/cluster-fixture.ts";
import { depotTls } from "./support/depot-tls.ts";
import { sh } from "../../src/util/sh.ts";

const NOBODY = 65534;
const asNobody = (script: string) =>
  Bun.spawnSync(["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "sh", "-c", script], { stdout: "pipe", stderr: "pipe" });

// A unique name per run, so the old predictable /tmp paths of this test clash with nothing.
const NAME = `runc-race-${randomBytes(4).toString("hex")}.amd64`;
const PAYLOAD = Buffer.concat([Buffer.from("#!/bin/sh\necho the real runc\n"), randomBytes(256 * 1024)]);
const SHA = bytesSha256(PAYLOAD);

let work: string;
let server: ReturnType<typeof Bun.serve>;
/** While set, /slow/ sends the first chunk and waits for it before the rest. */
let gate: Promise<void> | undefined;

let ca: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "node-download-"));
  // Reachable by nobody, like the real /tmp; the base directories are made inside it.
  chmodSync(work, 0o755);
  // The depot is TLS only: the test's depot CA stands for the one the trust phase puts on a node.
  const pki = await depotTls();
  ca = join(work, "depot-ca.crt");
  writeFileSync(ca, pki.caPem);
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: pki.tls,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === `/files/${NAME}`) return new Response(PAYLOAD);
      if (path === `/slow/${NAME}`) {
        const wait = gate;
        return new Response(
          new ReadableStream({
            async start(c) {
              c.enqueue(PAYLOAD.subarray(0, 1024));
              await wait;
              c.enqueue(PAYLOAD.subarray(1024));
              c.close();
            },
          }),
        );
      }
      return new Response("not found", { status: 404 });
    },
  });
});

afterAll(() => {
  server.stop(true);
  rmSync(work, { recursive: true, force: true });
});

const url = (kind = "files") => `https://127.0.0.1:${server.port}/${kind}/${NAME}`;
const host = () => new LocalHost({ name: "node1" });
/** <work>/<name>-XXXX/node-state/tmp; the first level is reachable by nobody, like /var/lib. */
function freshBase(name: string): string {
  const dir = mkdtempSync(join(work, `${name}-`));
  chmodSync(dir, 0o755);
  return join(dir, "node-state", "tmp");
}
const install = (dest: string) => sh`install -m 0755 "$FILE" ${dest}`;

async function failure(p: Promise<unknown>): Promise<HostError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof HostError) return e;
    throw e;
  }
  throw new Error("expected the download to fail");
}

test("the attacker's pre-created .part file and symlink at the old predictable path change nothing", async () => {
  const old = `/tmp/k8s-ha-offline-${NAME}`;
  const victim = join(work, "victim");
  writeFileSync(victim, "attacker-owned target\n");
  chownSync(victim, NOBODY, NOBODY);
  try {
    // What the review did: the .part file pre-created (to be rewritten after the check) and the final name a symlink.
    expect(asNobody(`printf 'evil runc\\n' > ${old}.part && ln -s ${victim} ${old}`).exitCode).toBe(0);
    const base = freshBase("old-path");
    const dest = join(work, "old-path-runc");
    await verifiedDownload(host(), { ca, urls: [url()], sha256: SHA, name: NAME, then: install(dest), what: "installing runc", base });
    expect(readFileSync(dest).equals(PAYLOAD)).toBe(true);
    expect(statSync(dest).mode & 0o7777).toBe(0o755);
    // The attacker's files are ignored: untouched, still theirs.
    expect(readFileSync(`${old}.part`, "utf8")).toBe("evil runc\n");
    expect(lstatSync(old).isSymbolicLink()).toBe(true);
    expect(readFileSync(victim, "utf8")).toBe("attacker-owned target\n");
    expect(readdirSync(base)).toEqual([]);
  } finally {
    rmSync(`${old}.part`, { force: true });
    rmSync(old, { force: true });
  }
});

test("during the download the private directory is 0700 root and the attacker can neither list nor write into it; it is gone after", async () => {
  const base = freshBase("during");
  const dest = join(work, "during-runc");
  let release!: () => void;
  gate = new Promise((r) => (release = r));
  const running = verifiedDownload(host(), { ca, urls: [url("slow")], sha256: SHA, name: NAME, then: install(dest), what: "installing runc", base });
  try {
    let dirs: string[] = [];
    for (let i = 0; i < 200 && !dirs.some((d) => existsSync(join(base, d, NAME))); i++) {
      await Bun.sleep(25);
      dirs = existsSync(base) ? readdirSync(base) : [];
    }
    expect(dirs.length).toBe(1);
    const priv = join(base, dirs[0]!);
    expect(dirs[0]).toMatch(/^dl\.\d+\.\w{8}$/);
    for (const d of [base, priv]) {
      const st = statSync(d);
      expect({ d, mode: st.mode & 0o7777, uid: st.uid }).toEqual({ d, mode: 0o700, uid: 0 });
    }
    // The half-downloaded file is out of reach: no listing, no rewrite, no replacement.
    expect(asNobody(`ls ${base}`).exitCode).not.toBe(0);
    expect(asNobody(`printf 'evil runc\\n' > ${join(priv, NAME)}`).exitCode).not.toBe(0);
    expect(asNobody(`ln -sf /bin/false ${join(priv, NAME)}`).exitCode).not.toBe(0);
  } finally {
    release();
    gate = undefined;
  }
  await running;
  expect(readFileSync(dest).equals(PAYLOAD)).toBe(true);
  expect(readdirSync(base)).toEqual([]);
});

test("a download directory that is a symlink or not root's is refused; nothing is installed", async () => {
  for (const how of ["symlink", "dangling symlink", "owned by nobody"]) {
    const base = freshBase(how.replace(/ /g, "-"));
    const parent = join(base, "..");
    mkdirSync(parent, { recursive: true });
    chmodSync(parent, 0o1777);
    const lure = join(parent, "lure");
    const plant = { symlink: `mkdir ${lure} && ln -s ${lure} ${base}`, "dangling symlink": `ln -s ${lure} ${base}`, "owned by nobody": `mkdir ${base}` }[how]!;
    expect(asNobody(plant).exitCode).toBe(0);
    const dest = join(work, `refused-${how.replace(/ /g, "-")}`);
    const err = await failure(verifiedDownload(host(), { ca, urls: [url()], sha256: SHA, name: NAME, then: install(dest), what: "installing runc", base }));
    expect(err.message).toContain(`node1: cannot use the download directory on the node: ${base} is a symlink or not a directory owned by root; refusing to download into it`);
    expect(existsSync(dest)).toBe(false);
    if (how === "symlink") expect(readdirSync(lure)).toEqual([]);
    if (how === "dangling symlink") expect(existsSync(lure)).toBe(false);
  }
});

test("a payload that does not match the lock is never used, and the directory is removed", async () => {
  const base = freshBase("mismatch");
  const dest = join(work, "mismatch-runc");
  const wrong = bytesSha256("something else");
  const err = await failure(verifiedDownload(host(), { ca, urls: [url()], sha256: wrong, name: NAME, then: install(dest), what: "installing runc", base }));
  expect(err.message).toBe(`node1: ${NAME} is not the file of the bundle lock (${url()} has sha256 ${SHA}, the bundle lock says ${wrong}): nothing was installed; check that the depots serve this bundle`);
  expect(existsSync(dest)).toBe(false);
  expect(readdirSync(base)).toEqual([]);
  const missing = await failure(verifiedDownload(host(), { ca, urls: [`${url()}.absent`], sha256: SHA, name: NAME, then: install(dest), what: "installing runc", base }));
  expect(missing.message).toContain(`could not download ${NAME} from any depot (${url()}.absent: curl: (22)`);
  expect(readdirSync(base)).toEqual([]);
  // A failing install is reported as the install's failure, and cleans up too.
  const broken = await failure(verifiedDownload(host(), { ca, urls: [url()], sha256: SHA, name: NAME, then: sh`echo no space left >&2; exit 1`, what: "installing runc", base }));
  expect(broken.message).toBe("node1: installing runc failed (exit 1): no space left");
  expect(readdirSync(base)).toEqual([]);
});

test("a directory left by a cut connection (its shell gone) is removed by the next download; a live one is kept", async () => {
  const base = freshBase("leftover");
  mkdirSync(join(base, "dl.2147483646.AbCdEfGh"), { recursive: true, mode: 0o700 });
  writeFileSync(join(base, "dl.2147483646.AbCdEfGh", NAME), "half");
  const live = `dl.${process.pid}.LiveLive`;
  mkdirSync(join(base, live), { mode: 0o700 });
  await verifiedDownload(host(), { ca, urls: [url()], sha256: SHA, name: NAME, then: sh`test -s "$FILE"`, what: "checking", base });
  expect(readdirSync(base)).toEqual([live]);
});

test("the install command's own mktemp lands in the private directory too (TMPDIR)", async () => {
  const base = freshBase("tmpdir");
  const seen = join(work, "tmpdir-seen");
  await verifiedDownload(host(), { ca, urls: [url()], sha256: SHA, name: NAME, then: sh`d=$(mktemp -d); echo "$d" > ${seen}`, what: "extracting", base });
  expect(readFileSync(seen, "utf8").startsWith(`${base}/dl.`)).toBe(true);
  expect(readdirSync(base)).toEqual([]);
});

test("fetchVerified places the file under the node's real download directory, which stays 0700 root and empty", async () => {
  const dest = join(work, "final", `${NAME}.bin`);
  const config = labCluster();
  config.depot = { address: "127.0.0.1", port: server.port! };
  await fetchVerified(host(), { config }, { path: `files/${NAME}`, sha256: SHA, size: PAYLOAD.length } as never, dest, ca);
  expect(readFileSync(dest).equals(PAYLOAD)).toBe(true);
  expect(statSync(dest).mode & 0o777).toBe(0o644);
  expect(statSync(join(work, "final")).mode & 0o777).toBe(0o755); // made under the usual umask, not the private one
  const st = statSync(DOWNLOAD_DIR);
  expect({ mode: st.mode & 0o7777, uid: st.uid }).toEqual({ mode: 0o700, uid: 0 });
  expect(readdirSync(DOWNLOAD_DIR).filter((d) => d.startsWith(`dl.`) && existsSync(join(DOWNLOAD_DIR, d, NAME)))).toEqual([]);
});

test("a depot that is down costs one refused connection: the next depot serves the file; none answering names each", async () => {
  // master1's depot stopped (nothing listens at its port any more), master2's serving.
  const stopped = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const dead = `https://127.0.0.1:${stopped.port}/files/${NAME}`;
  stopped.stop(true);
  const base = freshBase("fallback");
  const dest = join(work, "fallback-runc");
  await verifiedDownload(host(), { ca, urls: [dead, url()], sha256: SHA, name: NAME, then: install(dest), what: "installing runc", base });
  expect(readFileSync(dest).equals(PAYLOAD)).toBe(true);
  expect(readdirSync(base)).toEqual([]);
  const err = await failure(verifiedDownload(host(), { ca, urls: [dead, `${url()}.absent`], sha256: SHA, name: NAME, then: install(join(work, "never")), what: "installing runc", base }));
  expect(err.message).toMatch(new RegExp(`^node1: could not download ${NAME} from any depot \\(${dead.replace(/[.]/g, "\\.")}: curl: \\(7\\).*; ${url().replace(/[.]/g, "\\.")}\\.absent: curl: \\(22\\)`));
  expect(existsSync(join(work, "never"))).toBe(false);
});

test("depotFile lists every depot in the node's order: a master's own first, then master1's, then the others", () => {
  const config = labCluster();
  const file = { path: "files/x.tgz", sha256: SHA, size: 1 } as never;
  const m = (n: string) => config.hosts.find((h) => h.name === n)!.address;
  const p = config.depot.port;
  expect(depotFile({ config }, file, "node1").urls).toEqual([`https://${m("master1")}:${p}/files/x.tgz`, `https://${m("master2")}:${p}/files/x.tgz`, `https://${m("master3")}:${p}/files/x.tgz`]);
  expect(depotFile({ config }, file, "master3").urls).toEqual([`https://${m("master3")}:${p}/files/x.tgz`, `https://${m("master1")}:${p}/files/x.tgz`, `https://${m("master2")}:${p}/files/x.tgz`]);
});
