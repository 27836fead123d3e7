// Where login credentials come from: key files (checked up front), the agent, a password from
// the environment variable the config names or asked once on the terminal.
import { test, expect, beforeAll, afterAll } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SshSettings } from "../../src/config/types.ts";
import { CredentialResolver, expandHome } from "../../src/hosts/credentials.ts";

let home: string;
const settings = (over: Partial<SshSettings> = {}): SshSettings => ({
  user: "root",
  port: 22,
  hostKeyPolicy: "strict",
  knownHostsFile: "~/.ssh/known_hosts",
  connectTimeoutSeconds: 10,
  ...over,
});
const keygen = (args: string) => Bun.spawnSync(["sh", "-c", `ssh-keygen -q ${args}`]).exitCode;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "creds-"));
  mkdirSync(join(home, ".ssh"));
  expect(keygen(`-t ed25519 -N '' -f ${home}/plain`)).toBe(0);
  expect(keygen(`-t ed25519 -N 'secret phrase' -f ${home}/locked`)).toBe(0);
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

const noTerminal = (env: Record<string, string> = {}) => new CredentialResolver({ env, home, prompt: undefined });

test("a key file is read and checked before any connection", async () => {
  const c = await noTerminal().resolve("master1", settings({ keyFile: `${home}/plain` }));
  expect(c.keys.map((k) => k.path)).toEqual([`${home}/plain`]);
  expect(c.password).toBeUndefined();
});

test("a missing key file names the path and the config key", async () => {
  await expect(noTerminal().resolve("master1", settings({ keyFile: `${home}/nope` }))).rejects.toThrow(
    `master1: cannot read SSH key ${home}/nope (ssh.keyFile): ENOENT; check the path and that it is readable`,
  );
});

test("a passphrase-protected key says to use ssh-agent", async () => {
  await expect(noTerminal().resolve("master1", settings({ keyFile: `${home}/locked` }))).rejects.toThrow(/protected by a passphrase; load it into ssh-agent \(ssh-add/);
});

test("~ in paths means the home directory", () => {
  expect(expandHome("~/.ssh/id_rsa", "/home/op")).toBe("/home/op/.ssh/id_rsa");
  expect(expandHome("/etc/x", "/home/op")).toBe("/etc/x");
});

test("password from the named environment variable; the agent socket from SSH_AUTH_SOCK", async () => {
  const c = await noTerminal({ K8S_SSH_PASSWORD: "pw1", SSH_AUTH_SOCK: "/run/agent.sock" }).resolve("node1", settings({ passwordEnv: "K8S_SSH_PASSWORD" }));
  expect(c.password).toBe("pw1");
  expect(c.agent).toBe("/run/agent.sock");
});

test("an unset password variable without a terminal says how to set it", async () => {
  await expect(noTerminal().resolve("node1", settings({ passwordEnv: "K8S_SSH_PASSWORD" }))).rejects.toThrow(
    "node1: the SSH password is expected in environment variable K8S_SSH_PASSWORD (ssh.passwordEnv), which is not set; run: read -rs K8S_SSH_PASSWORD && export K8S_SSH_PASSWORD  (or run from a terminal to be asked)",
  );
});

test("on a terminal the password is asked once per variable, for all nodes naming it", async () => {
  const questions: string[] = [];
  const r = new CredentialResolver({ env: {}, home, prompt: async (q) => (questions.push(q), "typed") });
  const [a, b] = await Promise.all([
    r.resolve("node1", settings({ passwordEnv: "PW" })),
    r.resolve("node2", settings({ passwordEnv: "PW" })),
  ]);
  expect([a.password, b.password]).toEqual(["typed", "typed"]);
  expect(questions).toEqual(["SSH password for root (PW, used for every node that names it): "]);
});

test("without key file, agent or password: OpenSSH's default keys in ~/.ssh, else a clear error", async () => {
  await expect(noTerminal().resolve("node1", settings())).rejects.toThrow(
    "node1: no way to log in as root: set ssh.keyFile or ssh.passwordEnv in the config, or start an ssh-agent holding the key (SSH_AUTH_SOCK is not set)",
  );
  expect(keygen(`-t ed25519 -N '' -f ${home}/.ssh/id_ed25519`)).toBe(0);
  expect(keygen(`-t rsa -N 'x' -f ${home}/.ssh/id_rsa`)).toBe(0); // has a passphrase: not offered
  const c = await noTerminal().resolve("node1", settings());
  expect(c.keys.map((k) => k.path)).toEqual([join(home, ".ssh", "id_ed25519")]);
});
