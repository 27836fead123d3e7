// The Host contract, run against both implementations: LocalHost and SshHost talking to a real
// OpenSSH sshd on loopback. Phases rely on these semantics being identical on both.
import { describe, test, expect, beforeAll, afterAll, setDefaultTimeout } from "bun:test";
import { mkdtempSync, rmSync, statSync, readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Host } from "../../src/hosts/host.ts";
import { HostError } from "../../src/hosts/host.ts";
import { LocalHost } from "../../src/hosts/local.ts";
import { SshHost } from "../../src/hosts/ssh.ts";
import { formatExecRecord, type ExecRecord } from "../../src/hosts/log-sink.ts";
import { startSshd, sshdAvailable, type Sshd } from "./support/sshd.ts";
import { shellScript } from "../../src/util/sh.ts";

const PORT = 2201;
// Generous: on a loaded CI machine one SSH session (fork, shell, timeout, sh) can take seconds.
setDefaultTimeout(120_000);
const BIG_MB = 100;

let sshd: Sshd;
let work: string;
let bigFile: string;
let bigSha: string;

beforeAll(async () => {
  if (!sshdAvailable()) throw new Error("these tests need root and openssh-server (apt-get install -y openssh-server)");
  sshd = await startSshd({ port: PORT });
  work = mkdtempSync(join(tmpdir(), "hosts-contract-"));
  bigFile = join(work, "big.bin");
  // Random content, so a transfer that drops or reorders chunks cannot pass the sha256 check.
  const dd = Bun.spawnSync(["dd", "if=/dev/urandom", `of=${bigFile}`, "bs=1M", `count=${BIG_MB}`, "status=none"]);
  if (dd.exitCode !== 0) throw new Error(dd.stderr.toString());
  bigSha = Bun.spawnSync(["sha256sum", bigFile]).stdout.toString().split(" ")[0]!;
});

afterAll(async () => {
  await sshd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Made {
  host: Host;
  records: ExecRecord[];
}

const implementations: [string, () => Promise<Made>][] = [
  [
    "LocalHost",
    async () => {
      const records: ExecRecord[] = [];
      return { host: new LocalHost({ name: "local", log: { exec: (r) => records.push(r) } }), records };
    },
  ],
  [
    "SshHost",
    async () => {
      const records: ExecRecord[] = [];
      const host = await SshHost.connect(
        {
          name: "ssh-node",
          address: "127.0.0.1",
          port: PORT,
          user: "root",
          credentials: { keys: [{ path: sshd.clientKey, data: readFileSync(sshd.clientKey) }] },
          hostKeyPolicy: "off",
          knownHostsFile: "/nonexistent",
          connectTimeoutMs: 10_000,
        },
        { log: { exec: (r) => records.push(r) } },
      );
      return { host, records };
    },
  ],
];

/** A zombie has finished running; only its parent has not collected it yet. */
function isRunning(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]![0] !== "Z";
  } catch {
    return false;
  }
}

/** Polls a condition for up to 60 s (no timing is asserted, only that it becomes true). */
async function until(cond: () => boolean): Promise<boolean> {
  for (let i = 0; i < 600; i++) {
    if (cond()) return true;
    await Bun.sleep(100);
  }
  return cond();
}

const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.includes(".tmp-"));

for (const [kind, make] of implementations) {
  describe(`${kind} follows the Host contract`, () => {
    let host: Host;
    let records: ExecRecord[];
    let dir: string;

    beforeAll(async () => {
      ({ host, records } = await make());
      dir = mkdtempSync(join(work, `${kind}-`));
    });
    afterAll(async () => {
      await host?.close();
    });

    test("exec returns exit code, stdout and stderr without throwing when check is false", async () => {
      const r = await host.exec(shellScript("echo out; echo err >&2; exit 3"), { check: false });
      expect(r).toEqual({ code: 3, stdout: "out\n", stderr: "err\n" });
    });

    test("exec runs as root under sh", async () => {
      const r = await host.exec(shellScript("id -u; cat /proc/$$/comm"));
      expect(r.stdout).toBe("0\nsh\n");
    });

    test("a non-zero exit throws a HostError naming the node, the command, the code and what it printed", async () => {
      const err = await host.exec(shellScript("echo 'disk is full' >&2; exit 7")).catch((e) => e);
      expect(err).toBeInstanceOf(HostError);
      expect(err.host).toBe(host.name);
      expect(err.message).toContain(`${host.name}: command failed (exit 7)`);
      expect(err.message).toContain("disk is full");
      expect(err.result.code).toBe(7);
    });

    test("stdin reaches the command, also binary", async () => {
      const bytes = new Uint8Array(256).map((_, i) => i);
      const r = await host.exec(shellScript("sha256sum"), { stdin: bytes });
      expect(r.stdout.split(" ")[0]).toBe(new Bun.CryptoHasher("sha256").update(bytes).digest("hex"));
      expect((await host.exec(shellScript("cat"), { stdin: "hello\n" })).stdout).toBe("hello\n");
    });

    test("a command running past its timeout is rejected with a clear error and killed", async () => {
      const pidFile = join(dir, "sleeper.pid");
      const cmd = `sh -c 'echo $$ > ${pidFile}; exec sleep 60'`;
      const err = await host.exec(shellScript(cmd), { timeoutMs: 2500 }).catch((e) => e);
      expect(err).toBeInstanceOf(HostError);
      expect(err.message).toBe(`${host.name}: timed out after 2.5s running: ${cmd}`);
      // LocalHost kills the process group at once; over SSH the node's `timeout` does it a little
      // later. (On a very slow machine the command may even start only after we gave up.)
      await until(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").endsWith("\n"));
      const pid = Number(readFileSync(pidFile, "utf8"));
      expect(await until(() => !isRunning(pid))).toBe(true);
    });

    test("readFile returns null for a missing file and exact bytes for a present one", async () => {
      expect(await host.readFile(join(dir, "nope"))).toBeNull();
      const bytes = new Uint8Array(1024).map((_, i) => (i * 7) % 256);
      writeFileSync(join(dir, "bytes"), bytes);
      expect(Buffer.from((await host.readFile(join(dir, "bytes")))!)).toEqual(Buffer.from(bytes));
    });

    test("readFile of a directory is an error, not null", async () => {
      await expect(host.readFile(dir)).rejects.toThrow(/cannot read file/);
    });

    test("reads asked side by side come back as one command, each with its own answer (absent, empty, binary, over 1 MiB, unreadable)", async () => {
      const bytes = new Uint8Array(4096).map((_, i) => (i * 13 + 1) % 256); // NULs, newlines and high bytes
      const big = new Uint8Array((1 << 20) + 3).map((_, i) => (i * 31) % 256); // past the batch's limit: read on its own
      writeFileSync(join(dir, "side-binary"), bytes);
      writeFileSync(join(dir, "side-empty"), "");
      writeFileSync(join(dir, "side-big"), big);
      writeFileSync(join(dir, "side 'quoted' $(touch pwned)"), "quoted\n");
      records.length = 0;
      const [absent, empty, binary, large, quoted, again] = await Promise.all([
        host.readFile(join(dir, "side-absent")),
        host.readFile(join(dir, "side-empty")),
        host.readFile(join(dir, "side-binary")),
        host.readFile(join(dir, "side-big")),
        host.readFile(join(dir, "side 'quoted' $(touch pwned)")),
        host.readFile(join(dir, "side-binary")),
      ]);
      expect(absent).toBeNull();
      expect(Buffer.from(empty!)).toEqual(Buffer.alloc(0));
      expect(Buffer.from(binary!)).toEqual(Buffer.from(bytes));
      expect(Buffer.from(again!)).toEqual(Buffer.from(bytes));
      expect(Buffer.from(large!).equals(Buffer.from(big))).toBe(true);
      expect(new TextDecoder().decode(quoted!)).toBe("quoted\n");
      expect(existsSync("pwned") || existsSync(join(dir, "pwned"))).toBe(false);
      // One command for the five paths, one more for the file too big to pass through it.
      expect(records.length).toBe(2);
      expect(records.every((r) => r.secret)).toBe(true);
      // A directory among them fails alone, with the error a single read gives; the others are answered.
      const [dirRead, fileRead] = await Promise.allSettled([host.readFile(dir), host.readFile(join(dir, "side-binary"))]);
      expect(dirRead.status === "rejected" && String((dirRead as PromiseRejectedResult).reason.message)).toMatch(/cannot read file/);
      expect(fileRead.status === "fulfilled" && Buffer.from((fileRead as PromiseFulfilledResult<Uint8Array>).value).equals(Buffer.from(bytes))).toBe(true);
    });

    test("writes compared side by side share one command, and each still writes only what differs", async () => {
      const same = join(dir, "cmp-same");
      const other = join(dir, "cmp-other");
      const mode = join(dir, "cmp-mode");
      await Promise.all([host.writeFile(same, "s"), host.writeFile(other, "o"), host.writeFile(mode, "m")]);
      const inodes = [same, other, mode].map((p) => statSync(p).ino);
      records.length = 0;
      const changed = await Promise.all([host.writeFile(same, "s"), host.writeFile(other, "O"), host.writeFile(mode, "m", { mode: 0o600 }), host.writeFile(join(dir, "cmp-new"), "n")]);
      expect(changed).toEqual([false, true, true, true]);
      expect(statSync(same).ino).toBe(inodes[0]!);
      expect(readFileSync(other, "utf8")).toBe("O");
      expect(statSync(mode).mode & 0o7777).toBe(0o600);
      expect(readFileSync(join(dir, "cmp-new"), "utf8")).toBe("n");
      // One comparison for the four, then one write for each of the three that differ.
      expect(records.length).toBe(4);
    });

    test("writeFile creates parents, sets mode, and a second identical write changes nothing", async () => {
      const path = join(dir, "etc", "sub", "config.yaml");
      expect(await host.writeFile(path, "a: 1\n", { mode: 0o600 })).toBe(true);
      const first = statSync(path);
      expect(first.mode & 0o7777).toBe(0o600);
      expect(statSync(join(dir, "etc", "sub")).mode & 0o777).toBe(0o755);
      expect(readFileSync(path, "utf8")).toBe("a: 1\n");
      await Bun.sleep(20); // so a rewrite would show in mtime
      expect(await host.writeFile(path, "a: 1\n", { mode: 0o600 })).toBe(false);
      const second = statSync(path);
      expect(second.mtimeMs).toBe(first.mtimeMs);
      expect(second.ino).toBe(first.ino);
    });

    test("writeFile replaces atomically (new inode) when content, mode or owner differ", async () => {
      const path = join(dir, "replace.txt");
      await host.writeFile(path, "one");
      const ino1 = statSync(path).ino;
      expect(await host.writeFile(path, "two")).toBe(true);
      expect(readFileSync(path, "utf8")).toBe("two");
      expect(statSync(path).ino).not.toBe(ino1);
      expect(await host.writeFile(path, "two", { mode: 0o640 })).toBe(true);
      expect(statSync(path).mode & 0o7777).toBe(0o640);
      expect(await host.writeFile(path, "two", { mode: 0o640, owner: "nobody:nogroup" })).toBe(true);
      expect(statSync(path).uid).toBe(Number(Bun.spawnSync(["id", "-u", "nobody"]).stdout.toString()));
      expect(await host.writeFile(path, "two", { mode: 0o640, owner: "nobody:nogroup" })).toBe(false);
      expect(leftovers(dir)).toEqual([]);
    });

    test("writeFile that cannot succeed leaves the old file and no temp file behind", async () => {
      const path = join(dir, "kept.txt");
      await host.writeFile(path, "old");
      const err = await host.writeFile(path, "new", { owner: "no-such-user-k8sho" }).catch((e) => e);
      expect(err).toBeInstanceOf(HostError);
      expect(err.message).toContain("cannot write file");
      expect(err.message).toContain("no-such-user-k8sho");
      expect(readFileSync(path, "utf8")).toBe("old");
      expect(leftovers(dir)).toEqual([]);
    });

    test(`upload of a ${BIG_MB} MB file arrives intact (sha256), with mode, and leaves no temp file`, async () => {
      const dst = join(dir, "bin", "k8s-ha-offline");
      await host.upload(bigFile, dst, { mode: 0o755 });
      expect(statSync(dst).size).toBe(BIG_MB * 1024 * 1024);
      expect(statSync(dst).mode & 0o7777).toBe(0o755);
      expect(Bun.spawnSync(["sha256sum", dst]).stdout.toString().split(" ")[0]).toBe(bigSha);
      expect(leftovers(join(dir, "bin"))).toEqual([]);
    }, 120_000);

    test("upload of a missing local file says so", async () => {
      const err = await host.upload(join(work, "missing.bin"), join(dir, "x")).catch((e) => e);
      expect(err).toBeInstanceOf(HostError);
      expect(err.message).toBe(`${host.name}: cannot upload ${join(work, "missing.bin")}: no such file on this machine`);
      expect(existsSync(join(dir, "x"))).toBe(false);
    });

    test("every command is logged with code and duration; secret output is not", async () => {
      records.length = 0;
      await host.exec(shellScript("echo visible-output"));
      await host.exec(shellScript("echo hidden-token-123"), { secret: true });
      const [plain, secret] = records;
      expect(plain).toMatchObject({ host: host.name, cmd: "echo visible-output", code: 0, stdout: "visible-output\n", secret: false });
      expect(plain!.durationMs).toBeGreaterThan(0);
      expect(secret).toMatchObject({ cmd: "echo hidden-token-123", code: 0, secret: true, stdout: "", stderr: "" });
      expect(formatExecRecord(secret!)).toContain("(output not logged: secret)");
      expect(formatExecRecord(plain!)).toContain("stdout:\n    visible-output");
    });
  });
}
