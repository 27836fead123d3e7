// HostPool (one shared connection per node, the local node without SSH), against real sshds on
// loopback addresses.
import { test, expect, beforeAll, afterAll, setDefaultTimeout } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostSpec } from "../../src/config/types.ts";
import { HostPool } from "../../src/hosts/pool.ts";
import { LocalHost } from "../../src/hosts/local.ts";
import { SshHost } from "../../src/hosts/ssh.ts";
import { CredentialResolver } from "../../src/hosts/credentials.ts";
import { startSshd, sshdAvailable, type Sshd } from "./support/sshd.ts";
import { shellScript } from "../../src/util/sh.ts";

const PORT = 2205;
const LATE_PORT = 2206; // an sshd started only halfway through a test
setDefaultTimeout(120_000);

let sshd: Sshd;
let work: string;

beforeAll(async () => {
  if (!sshdAvailable()) throw new Error("these tests need root and openssh-server (apt-get install -y openssh-server)");
  sshd = await startSshd({ port: PORT, addresses: ["127.0.0.2", "127.0.0.3"] });
  work = mkdtempSync(join(tmpdir(), "hosts-pool-"));
});
afterAll(async () => {
  await sshd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const spec = (name: string, address: string, port = PORT): HostSpec => ({
  name,
  address,
  roles: ["control-plane"],
  aliases: [],
  ssh: { user: "root", port, keyFile: sshd.clientKey, hostKeyPolicy: "accept-new", knownHostsFile: join(work, "known_hosts"), connectTimeoutSeconds: 20 },
});
const newPool = (lines: string[] = []) => new HostPool({ credentials: new CredentialResolver({ env: {}, prompt: undefined }), log: { file: (l) => lines.push(l) } });

test("one connection per node, shared by concurrent callers; this machine's address gets a LocalHost", async () => {
  const pool = newPool();
  const m2 = spec("master2", "127.0.0.2");
  const [a, b] = await Promise.all([pool.get(m2), pool.get(m2)]);
  expect(a).toBe(b);
  expect(await pool.get(m2)).toBe(a);
  expect(a).toBeInstanceOf(SshHost);
  const local = await pool.get(spec("master1", "127.0.0.1"));
  expect(local).toBeInstanceOf(LocalHost);
  expect(local.name).toBe("master1");
  await pool.closeAll();
  await expect(a.exec(shellScript("true"))).rejects.toThrow("master2: connection was already closed");
});

test("localNode names the node this binary runs on, whatever its address", async () => {
  const pool = new HostPool({ localNode: "master3" });
  expect(pool.isLocal(spec("master3", "192.0.2.10"))).toBe(true);
  expect(pool.isLocal(spec("master1", "127.0.0.1"))).toBe(false);
});

test("a failed connection is not kept: the next get() tries again", async () => {
  const late = spec("late", "127.0.0.1", LATE_PORT);
  // 127.0.0.1 is this machine: say it is not, so the pool uses SSH to reach it.
  const lateNotLocal = new HostPool({ credentials: new CredentialResolver({ env: {}, prompt: undefined }), localAddresses: [] });
  await expect(lateNotLocal.get(late)).rejects.toThrow(`late: cannot reach 127.0.0.1:${LATE_PORT}: connection refused`);
  const second = await startSshd({ port: LATE_PORT });
  try {
    const h = await lateNotLocal.get({ ...late, ssh: { ...late.ssh, keyFile: second.clientKey } });
    expect((await h.exec(shellScript("echo up"))).stdout).toBe("up\n");
  } finally {
    await lateNotLocal.closeAll();
    await second.stop();
  }
});

test("fan-out over the pool: every node reports, the unreachable one with its own error", async () => {
  const lines: string[] = [];
  const pool = newPool(lines);
  const nodes = [spec("master2", "127.0.0.2"), spec("master3", "127.0.0.3"), spec("worker9", "127.0.0.4")];
  const results = await Promise.allSettled(nodes.map(async (n) => (await (await pool.get(n)).exec(shellScript("hostname -I >/dev/null; echo $SSH_CONNECTION"))).stdout));
  expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
  expect(results[0]!.status === "fulfilled" && results[0]!.value.split(" ")[2]).toBe("127.0.0.2");
  expect(results[1]!.status === "fulfilled" && results[1]!.value.split(" ")[2]).toBe("127.0.0.3");
  expect(results[2]!.status === "rejected" && (results[2]!.reason as Error).message).toStartWith(`worker9: cannot reach 127.0.0.4:${PORT}: connection refused`);
  // Transcripts went to the run logger, one per command, naming the node.
  expect(lines.filter((l) => l.includes("echo $SSH_CONNECTION")).map((l) => l.split(" ")[0]).sort()).toEqual(["[master2]", "[master3]"]);
  await pool.closeAll();
});

