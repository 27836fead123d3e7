// Starts a real OpenSSH sshd on loopback for tests and benchmarks: own host keys, own
// authorized_keys, pubkey and password auth, everything in a temp dir removed on stop().
// Needs root (sshd checks passwords against /etc/shadow) and Debian's openssh-server.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { randomBytes } from "node:crypto";

export interface Sshd {
  port: number;
  /** Addresses it listens on (all on loopback). */
  addresses: string[];
  dir: string;
  /** Private key (ed25519, no passphrase) authorized for root and every throwaway user. */
  clientKey: string;
  /** known_hosts lines for every address (`[addr]:port type base64`). */
  knownHostsLines(keyType?: "ssh-ed25519" | "ecdsa-sha2-nistp256" | "ssh-rsa"): string[];
  stop(): Promise<void>;
}

const SSHD = "/usr/sbin/sshd";

function run(cmd: string[], input?: string): string {
  const p = Bun.spawnSync(cmd, { stdin: input === undefined ? "ignore" : Buffer.from(input), stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${p.exitCode}): ${p.stderr.toString()}`);
  return p.stdout.toString();
}

/** Whether a real sshd can be started here (root + openssh-server installed). */
export const sshdAvailable = () => existsSync(SSHD) && process.getuid?.() === 0;

/** Resolves once something on addr:port sends an SSH banner. */
async function waitForBanner(addr: string, port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: addr, port });
      s.once("data", (d) => {
        s.destroy();
        resolve(d.toString().startsWith("SSH-"));
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await Bun.sleep(50);
  }
  throw new Error(`sshd did not come up on ${addr}:${port}`);
}

export async function startSshd(opts: { port: number; addresses?: string[]; extraConfig?: string[] }): Promise<Sshd> {
  const addresses = opts.addresses ?? ["127.0.0.1"];
  const dir = mkdtempSync(join(tmpdir(), "k8s-ha-offline-sshd-"));
  const keyTypes = [
    ["ed25519", "ssh-ed25519"],
    ["ecdsa", "ecdsa-sha2-nistp256"],
    ["rsa", "ssh-rsa"],
  ] as const;
  for (const [t] of keyTypes) run(["ssh-keygen", "-q", "-t", t, "-N", "", "-f", join(dir, `host_${t}`)]);
  const clientKey = join(dir, "client_ed25519");
  run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", clientKey]);
  // %u: the same key is authorized for root and any throwaway user created by the tests.
  writeFileSync(join(dir, "authorized_keys"), readFileSync(`${clientKey}.pub`));
  mkdirSync("/run/sshd", { recursive: true }); // privilege-separation dir sshd insists on
  const config = [
    // sshd keeps the first value of a keyword, so the caller's lines go first and win.
    ...(opts.extraConfig ?? []),
    `Port ${opts.port}`,
    ...addresses.map((a) => `ListenAddress ${a}`),
    ...keyTypes.map(([t]) => `HostKey ${join(dir, `host_${t}`)}`),
    `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "PermitRootLogin yes",
    "PubkeyAuthentication yes",
    "PasswordAuthentication yes",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    // The fan-out benchmark opens 16 connections at once; the default (10:30:100) drops some.
    "MaxStartups 200",
    "MaxSessions 100",
    "Subsystem sftp internal-sftp",
    // bash, run by sshd for a command, reads root's ~/.bashrc unless it is a nested shell (SHLVL): on a
    // machine whose .bashrc starts pyenv or the like, that is a second per command, and 10 minutes of the
    // unit suite. The nodes the installer drives answer in a tenth of that; so does this one now.
    "SetEnv SHLVL=1",
    "LogLevel ERROR",
  ];
  const configFile = join(dir, "sshd_config");
  writeFileSync(configFile, config.join("\n") + "\n");
  const proc = Bun.spawn([SSHD, "-D", "-e", "-f", configFile], { stdout: "ignore", stderr: "pipe" });
  try {
    await Promise.race([
      Promise.all(addresses.map((a) => waitForBanner(a, opts.port, Date.now() + 10_000))),
      proc.exited.then(async (code) => {
        throw new Error(`sshd exited (${code}): ${await new Response(proc.stderr).text()}`);
      }),
    ]);
  } catch (e) {
    proc.kill();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const hostPub = (t: string) => readFileSync(join(dir, `host_${t}.pub`), "utf8").trim().split(" ").slice(0, 2).join(" ");
  return {
    port: opts.port,
    addresses,
    dir,
    clientKey,
    knownHostsLines(keyType = "ssh-ed25519") {
      const t = keyTypes.find(([, name]) => name === keyType)![0];
      return addresses.map((a) => `[${a}]:${opts.port} ${hostPub(t)}`);
    },
    async stop() {
      proc.kill();
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ThrowawayUser {
  name: string;
  password: string;
  remove(): void;
}

/**
 * A local user with a random password, removed with its home by remove(). By default without
 * any rights; with `uid0` another name for root (uid 0) whose shell is /bin/sh, which also spares
 * each SSH session root's ~/.bashrc (on this test machine it runs pyenv, seconds per session).
 */
export function createThrowawayUser(opts: { uid0?: boolean } = {}): ThrowawayUser {
  const name = `k8sho${randomBytes(3).toString("hex")}`;
  const password = randomBytes(12).toString("base64url");
  run(["useradd", "--create-home", "--shell", "/bin/sh", ...(opts.uid0 ? ["--non-unique", "--uid", "0", "--gid", "0"] : []), name]);
  try {
    run(["chpasswd"], `${name}:${password}\n`);
  } catch (e) {
    run(["userdel", "--remove", name]);
    throw e;
  }
  // --force for uid 0: userdel otherwise refuses because "the user" runs every root process.
  return { name, password, remove: () => run(["userdel", "--remove", ...(opts.uid0 ? ["--force"] : []), name]) };
}
