// SshHost against a real OpenSSH sshd on loopback: key, agent and password login, what the
// operator reads when a node is unreachable or refuses the login, known_hosts policies, sudo.
import { describe, test, expect, beforeAll, afterAll, setDefaultTimeout } from "bun:test";
import { mkdtempSync, rmSync, readFileSync, writeFileSync, existsSync, statSync, mkdirSync, unlinkSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HostError } from "../../src/hosts/host.ts";
import { SshHost, type SshTarget } from "../../src/hosts/ssh.ts";
import { startSshd, sshdAvailable, createThrowawayUser, type Sshd, type ThrowawayUser } from "./support/sshd.ts";
import { shellScript } from "../../src/util/sh.ts";

const PORT = 2202;
const SILENT_PORT = 2203; // accepts TCP, never speaks SSH
const CLOSED_PORT = 2204; // nothing listens
const DEAF_PORT = 2208; // a full accept queue: further SYNs are dropped, like a blackholed address
const PAM_PORT = 2207; // passwords only through PAM's keyboard-interactive conversation
setDefaultTimeout(120_000);

let sshd: Sshd;
let work: string;
let user: ThrowawayUser;
let silent: Server;
const silentSockets: Socket[] = [];
let otherKey: string; // a valid key the server does not authorize

const sh = (cmd: string) => {
  const p = Bun.spawnSync(["sh", "-c", cmd], { stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd}: ${p.stderr}`);
  return p.stdout.toString();
};
const keyOf = (path: string) => ({ path, data: readFileSync(path) });

function target(over: Partial<SshTarget> = {}): SshTarget {
  return {
    name: "node1",
    address: "127.0.0.1",
    port: PORT,
    user: "root",
    credentials: { keys: [keyOf(sshd.clientKey)] },
    hostKeyPolicy: "off",
    knownHostsFile: join(work, "unused_known_hosts"),
    connectTimeoutMs: 20_000,
    ...over,
  };
}

async function connectError(t: SshTarget): Promise<HostError> {
  const result = await SshHost.connect(t).then(
    async (h) => {
      await h.close();
      return undefined;
    },
    (e) => e,
  );
  if (!(result instanceof HostError)) throw new Error(`expected a HostError, got ${result}`);
  return result;
}

beforeAll(async () => {
  if (!sshdAvailable()) throw new Error("these tests need root and openssh-server (apt-get install -y openssh-server)");
  sshd = await startSshd({ port: PORT });
  work = mkdtempSync(join(tmpdir(), "hosts-ssh-"));
  otherKey = join(work, "other_ed25519");
  sh(`ssh-keygen -q -t ed25519 -N '' -f ${otherKey}`);
  user = createThrowawayUser();
  silent = createServer((s) => silentSockets.push(s.on("error", () => {})));
  await new Promise<void>((r) => silent.listen(SILENT_PORT, "127.0.0.1", r));
});

afterAll(async () => {
  silentSockets.forEach((s) => s.destroy());
  silent?.close();
  user?.remove();
  await sshd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("login", () => {
  test("with a key file as root", async () => {
    const h = await SshHost.connect(target());
    expect((await h.exec(shellScript("id -un"))).stdout).toBe("root\n");
    await h.close();
  });

  test("with a key held by ssh-agent", async () => {
    const sock = join(work, "agent.sock");
    const agent = Bun.spawn(["ssh-agent", "-D", "-a", sock], { stdout: "ignore", stderr: "ignore" });
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) await Bun.sleep(50);
      const add = Bun.spawnSync(["ssh-add", sshd.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stderr: "pipe" });
      expect(add.exitCode).toBe(0);
      const h = await SshHost.connect(target({ credentials: { keys: [], agent: sock } }));
      expect((await h.exec(shellScript("echo via-agent"))).stdout).toBe("via-agent\n");
      await h.close();
    } finally {
      agent.kill();
      await agent.exited;
    }
  });

  test("with a password as a user without sudo rights: logged in, then told exactly what is missing", async () => {
    const err = await connectError(target({ user: user.name, credentials: { keys: [], password: user.password } }));
    if (sudoInstalled) {
      expect(err.message).toBe(
        `node1: ${user.name}@127.0.0.1 is not root and cannot use sudo without a password (sudo said: sudo: a password is required); ` +
          `add "${user.name} ALL=(ALL) NOPASSWD: ALL" to /etc/sudoers.d/k8s-ha-offline on the node, or set ssh.user: root`,
      );
    } else {
      expect(err.message).toBe(
        `node1: ${user.name}@127.0.0.1 is not root and sudo is not installed on the node; set ssh.user: root, or install sudo and allow ${user.name} passwordless sudo`,
      );
    }
  });

  test("with a password as another name for root (uid 0): no sudo needed", async () => {
    const alias = createThrowawayUser({ uid0: true });
    try {
      const h = await SshHost.connect(target({ user: alias.name, credentials: { keys: [], password: alias.password } }));
      expect((await h.exec(shellScript("id -u; id -un"))).stdout).toBe("0\nroot\n");
      const dst = join(work, "alias-upload");
      await h.upload(otherKey, dst, { mode: 0o600 });
      expect(readFileSync(dst)).toEqual(readFileSync(otherKey));
      await h.close();
    } finally {
      alias.remove();
    }
  });

  test("with a password on a server that asks for it only by keyboard-interactive (PAM)", async () => {
    const pamSshd = await startSshd({ port: PAM_PORT, extraConfig: ["UsePAM yes", "KbdInteractiveAuthentication yes", "PasswordAuthentication no"] });
    const alias = createThrowawayUser({ uid0: true });
    try {
      const t = target({ port: PAM_PORT, user: alias.name, credentials: { keys: [], password: alias.password } });
      const h = await SshHost.connect(t);
      expect((await h.exec(shellScript("id -u"))).stdout).toBe("0\n");
      await h.close();
      const err = await connectError({ ...t, credentials: { keys: [], password: "wrong" } });
      expect(err.message).toStartWith(`node1: authentication failed for ${alias.name}@127.0.0.1 (tried: password, keyboard-interactive; server accepts: publickey, keyboard-interactive)`);
    } finally {
      alias.remove();
      await pamSshd.stop();
    }
  });

  test("a wrong password is refused with the methods tried, before the connect timeout", async () => {
    const err = await connectError(target({ user: user.name, credentials: { keys: [], password: "wrong-password" } }));
    // Not the timeout message: the refusal arrived within connectTimeoutMs.
    expect(err.message).toBe(
      `node1: authentication failed for ${user.name}@127.0.0.1 (tried: password; server accepts: publickey, password); ` +
        "check ssh.user, the key (ssh.keyFile or ssh-agent) and the password (ssh.passwordEnv)",
    );
  });

  test("an unauthorized key and a wrong password for root: both named", async () => {
    const err = await connectError(target({ credentials: { keys: [keyOf(otherKey)], password: "nope" } }));
    expect(err.message).toStartWith("node1: authentication failed for root@127.0.0.1 (tried: publickey, password;");
  });
});

describe("unreachable nodes", () => {
  test("nothing listening: connection refused, said at once", async () => {
    const err = await connectError(target({ port: CLOSED_PORT }));
    expect(err.message).toBe(`node1: cannot reach 127.0.0.1:${CLOSED_PORT}: connection refused (is sshd running there and listening on port ${CLOSED_PORT}?)`);
  });

  test("a node that never answers the TCP connect: cannot reach within connectTimeoutMs", async () => {
    // perl (perl-base, always on Debian) listens with backlog 0 and never accepts: once one
    // connection waits in the queue, the kernel drops every further SYN unanswered.
    const deaf = Bun.spawn(
      ["perl", "-MSocket", "-e", `socket(S,PF_INET,SOCK_STREAM,0) or die; setsockopt(S,SOL_SOCKET,SO_REUSEADDR,1); bind(S,sockaddr_in(${DEAF_PORT},inet_aton("127.0.0.1"))) or die "bind: $!"; listen(S,0) or die; $|=1; print "listening\n"; sleep 600`],
      { stdout: "pipe", stderr: "inherit" },
    );
    const filler: Socket[] = [];
    try {
      const { value } = await deaf.stdout.getReader().read();
      expect(new TextDecoder().decode(value)).toBe("listening\n");
      await new Promise<void>((resolve, reject) => filler.push(connect(DEAF_PORT, "127.0.0.1", resolve).on("error", reject)));
      const err = await connectError(target({ port: DEAF_PORT, connectTimeoutMs: 1500 }));
      expect(err.message).toBe(
        `node1: cannot reach 127.0.0.1:${DEAF_PORT} within 1.5s (no answer: check the address, the network path and that sshd listens on port ${DEAF_PORT})`,
      );
    } finally {
      filler.forEach((s) => s.destroy());
      deaf.kill();
      await deaf.exited;
    }
  });

  test("a listener that never speaks SSH: handshake timeout after connectTimeoutMs", async () => {
    const err = await connectError(target({ port: SILENT_PORT, connectTimeoutMs: 1500 }));
    expect(err.message).toBe(
      `node1: 127.0.0.1:${SILENT_PORT} accepted the TCP connection but did not complete an SSH handshake within 1.5s (is sshd healthy there, and is ${SILENT_PORT} an SSH port?)`,
    );
  });
});

describe("known_hosts", () => {
  const file = (name: string) => join(work, `kh-${name}`);
  const edLine = () => sshd.knownHostsLines("ssh-ed25519")[0]!;
  const fingerprintOf = (pub: string) => sh(`ssh-keygen -lf ${pub}`).split(" ")[1]!;

  test("strict: a listed key connects", async () => {
    writeFileSync(file("strict-ok"), `# comment\n${edLine()}\n`);
    const h = await SshHost.connect(target({ hostKeyPolicy: "strict", knownHostsFile: file("strict-ok") }));
    await h.close();
  });

  test("strict: an unlisted host is refused with its fingerprint and how to add it", async () => {
    const err = await connectError(target({ hostKeyPolicy: "strict", knownHostsFile: file("missing") }));
    const fp = fingerprintOf(join(sshd.dir, "host_ed25519.pub"));
    expect(err.message).toContain(`host key of 127.0.0.1:${PORT} is not in ${file("missing")} (ssh.hostKeyPolicy: strict). It presents ssh-ed25519 ${fp}.`);
    expect(err.message).toContain(`ssh-keyscan -p ${PORT} -t ed25519 127.0.0.1 >> ${file("missing")}`);
    expect(existsSync(file("missing"))).toBe(false);
  });

  test("accept-new: records the key the way OpenSSH does, and OpenSSH's client accepts the file", async () => {
    const kh = join(work, "new-dir", "known_hosts");
    const told: string[] = [];
    const onHostKeyRecorded = (m: string) => told.push(m);
    const h = await SshHost.connect(target({ hostKeyPolicy: "accept-new", knownHostsFile: kh, onHostKeyRecorded }));
    await h.close();
    expect(readFileSync(kh, "utf8")).toBe(`${edLine()}\n`);
    expect(statSync(kh).mode & 0o777).toBe(0o600);
    // The operator is told what was trusted, to compare with the node's own fingerprint.
    const fp = fingerprintOf(join(sshd.dir, "host_ed25519.pub"));
    expect(told).toEqual([`recorded host key of node1 (127.0.0.1:${PORT}): ssh-ed25519 ${fp}; compare it out of band`]);
    // Known from now on: nothing more to announce.
    await (await SshHost.connect(target({ hostKeyPolicy: "accept-new", knownHostsFile: kh, onHostKeyRecorded }))).close();
    expect(told.length).toBe(1);
    const strictAgain = await SshHost.connect(target({ hostKeyPolicy: "strict", knownHostsFile: kh }));
    await strictAgain.close();
    const ssh = Bun.spawnSync(
      ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${kh}`, "-o", "HostKeyAlgorithms=ssh-ed25519", "-i", sshd.clientKey, "-p", `${PORT}`, "root@127.0.0.1", "echo openssh-ok"],
      { stderr: "pipe" },
    );
    expect(ssh.stdout.toString()).toBe("openssh-ok\n");
  });

  for (const policy of ["strict", "accept-new"] as const) {
    test(`${policy}: a changed key is refused loudly and the file is left alone`, async () => {
      const impostor = join(work, `impostor-${policy}`);
      sh(`ssh-keygen -q -t ed25519 -N '' -f ${impostor}`);
      const oldLine = `[127.0.0.1]:${PORT} ${readFileSync(`${impostor}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ")}\n`;
      writeFileSync(file(`changed-${policy}`), oldLine);
      const err = await connectError(target({ hostKeyPolicy: policy, knownHostsFile: file(`changed-${policy}`) }));
      expect(err.message).toContain(`HOST KEY CHANGED for 127.0.0.1:${PORT}! ${file(`changed-${policy}`)} line 1 has ssh-ed25519 ${fingerprintOf(`${impostor}.pub`)}`);
      expect(err.message).toContain(`the host now presents ssh-ed25519 ${fingerprintOf(join(sshd.dir, "host_ed25519.pub"))}`);
      expect(err.message).toContain(`ssh-keygen -R '[127.0.0.1]:${PORT}' -f ${file(`changed-${policy}`)}`);
      expect(readFileSync(file(`changed-${policy}`), "utf8")).toBe(oldLine);
    });
  }

  test("a known_hosts file that cannot be read or written is named, and nothing is trusted", async () => {
    const unreadable = await connectError(target({ hostKeyPolicy: "strict", knownHostsFile: work }));
    expect(unreadable.message).toBe(`node1: cannot read ${work} (ssh.knownHostsFile): EISDIR`);
    const underProc = "/proc/k8sho-no-such-dir/known_hosts"; // reads as absent; no directory can be made there, even by root
    const unwritable = await connectError(target({ hostKeyPolicy: "accept-new", knownHostsFile: underProc }));
    expect(unwritable.message).toBe(`node1: cannot record the host key of 127.0.0.1:${PORT} in ${underProc} (ssh.knownHostsFile): ENOENT`);
  });

  test("hashed entries (ssh-keygen -H) are understood", async () => {
    writeFileSync(file("hashed"), `${edLine()}\n`);
    sh(`ssh-keygen -q -H -f ${file("hashed")} 2>/dev/null`);
    expect(readFileSync(file("hashed"), "utf8")).toStartWith("|1|");
    const h = await SshHost.connect(target({ hostKeyPolicy: "strict", knownHostsFile: file("hashed") }));
    await h.close();
  });

  test("a host known only by its RSA key is asked for that key", async () => {
    writeFileSync(file("rsa"), `${sshd.knownHostsLines("ssh-rsa")[0]}\n`);
    const h = await SshHost.connect(target({ hostKeyPolicy: "strict", knownHostsFile: file("rsa") }));
    await h.close();
  });

  test("a @revoked key is refused even when also listed", async () => {
    const [, type, key] = edLine().split(" ");
    writeFileSync(file("revoked"), `${edLine()}\n@revoked [127.0.0.1]:${PORT} ${type} ${key}\n`);
    const err = await connectError(target({ hostKeyPolicy: "strict", knownHostsFile: file("revoked") }));
    expect(err.message).toContain(`is marked @revoked in ${file("revoked")} line 2`);
  });
});

describe("connection", () => {
  test("a lost connection fails the running command clearly, and the next command reconnects", async () => {
    const h = await SshHost.connect(target());
    // Kill this connection's own sshd process (the first sshd above the command), nothing else.
    const killSession = 'p=$$; while [ "$(cat /proc/$p/comm)" != sshd ]; do p=$(cut -d" " -f4 /proc/$p/stat); done; kill -9 $p; sleep 5';
    const err = await h.exec(shellScript(killSession)).catch((e) => e);
    expect(err).toBeInstanceOf(HostError);
    expect(err.message).toBe(`node1: connection lost while running: ${killSession}`);
    expect((await h.exec(shellScript("echo back"))).stdout).toBe("back\n");
    await h.close();
  });

  test("after close() the host refuses work", async () => {
    const h = await SshHost.connect(target());
    await h.close();
    await expect(h.exec(shellScript("true"))).rejects.toThrow("node1: connection was already closed");
  });
});

const sudoInstalled = Bun.spawnSync(["sh", "-c", "command -v sudo"]).exitCode === 0;

// Without sudo on this machine the "sudo is not installed" login test above covers the user path.
describe.skipIf(!sudoInstalled)("as a non-root user with passwordless sudo", () => {
  const dropIn = () => join("/etc/sudoers.d", `k8sho-test-${user.name}`);

  test("commands, writes and uploads run as root through sudo -n", async () => {
    mkdirSync("/etc/sudoers.d", { recursive: true });
    writeFileSync(dropIn(), `${user.name} ALL=(ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
    try {
      const h = await SshHost.connect(target({ user: user.name, credentials: { keys: [], password: user.password } }));
      expect((await h.exec(shellScript("id -u"))).stdout).toBe("0\n");
      const dir = mkdtempSync(join(work, "sudo-"));
      expect(await h.writeFile(join(dir, "root-owned"), "x", { mode: 0o600 })).toBe(true);
      expect(statSync(join(dir, "root-owned")).uid).toBe(0);
      await h.upload(otherKey, join(dir, "uploaded"), { mode: 0o640 });
      expect(readFileSync(join(dir, "uploaded"))).toEqual(readFileSync(otherKey));
      expect(statSync(join(dir, "uploaded")).mode & 0o777).toBe(0o640);
      await h.close();
    } finally {
      unlinkSync(dropIn());
    }
  });
});
