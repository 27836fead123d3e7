// How the installer logs in to a node: a key file, the ssh-agent, and/or a password taken from
// the environment variable the config names (or asked once on the terminal). Passwords never
// live in the config file.
import { readFileSync, existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { utils } from "ssh2";
import type { SshSettings } from "../config/types.ts";
import { HostError } from "./host.ts";

export interface SshCredentials {
  /** Private keys to offer, in order (the configured one, else OpenSSH's default files). */
  keys: { path: string; data: Buffer }[];
  /** Path of the ssh-agent socket. */
  agent?: string;
  password?: string;
}

export interface CredentialSources {
  env?: Record<string, string | undefined>;
  /** Asks for a hidden line; undefined when there is no terminal to ask on. */
  prompt?: (question: string) => Promise<string>;
  /** Where ~/.ssh is, for the default keys. */
  home?: string;
  /**
   * The copy of ssh.keyFile every master keeps in its installer state (REPLICATED_KEY under the state
   * dir): used when the configured file is not on this machine (the command runs on master2, and the
   * key file was master1's), so any master reaches the nodes with the key the install used.
   */
  replicatedKey?: string;
}

/** Where, under the state dir, the installer's SSH key is replicated to every master (state-replica.ts). */
export const REPLICATED_KEY = "ssh/id";

const DEFAULT_KEY_FILES = ["id_ed25519", "id_ecdsa", "id_rsa"];

export const expandHome = (path: string, home = homedir()) => (path === "~" || path.startsWith("~/") ? join(home, path.slice(1)) : path);

/** Reads and checks a private key now, so a bad key is reported before any connection. */
export function loadPrivateKey(node: string, path: string): { path: string; data: Buffer } {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw new HostError(node, `cannot read SSH key ${path} (ssh.keyFile): ${(e as NodeJS.ErrnoException).code ?? e}; check the path and that it is readable`);
  }
  const parsed = utils.parseKey(data);
  if (parsed instanceof Error) {
    if (/passphrase/i.test(parsed.message))
      throw new HostError(node, `SSH key ${path} is protected by a passphrase; load it into ssh-agent (ssh-add ${path}) and remove ssh.keyFile from the config, or use a key without passphrase`);
    throw new HostError(node, `${path} is not a usable SSH private key (${parsed.message}); ed25519, ecdsa and rsa keys in OpenSSH or PEM format work`);
  }
  return { path, data };
}

/** Reads a line from the terminal without echoing it. */
export async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the question shows, so nothing typed after it can appear on screen.
  stdin.setRawMode(true);
  process.stderr.write(question);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let answer = "";
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") return done(() => resolve(answer));
          if (ch === "\u0003") return done(() => reject(new Error("password prompt cancelled")));
          if (ch === "\u007f" || ch === "\b") answer = answer.slice(0, -1);
          else answer += ch;
        }
      };
      const done = (finish: () => void) => {
        stdin.off("data", onData);
        finish();
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
}

const terminalPrompt = () => (process.stdin.isTTY ? promptHidden : undefined);

export class CredentialResolver {
  // One answer per environment variable name, shared by every node that names it.
  private readonly passwords = new Map<string, Promise<string>>();
  private readonly env: Record<string, string | undefined>;
  private readonly prompt: ((q: string) => Promise<string>) | undefined;
  private readonly home: string;
  private readonly replicatedKey: string | undefined;

  constructor(sources: CredentialSources = {}) {
    this.env = sources.env ?? process.env;
    this.prompt = "prompt" in sources ? sources.prompt : terminalPrompt();
    this.home = sources.home ?? homedir();
    this.replicatedKey = sources.replicatedKey;
  }

  async resolve(node: string, ssh: SshSettings): Promise<SshCredentials> {
    const agent = this.env.SSH_AUTH_SOCK || undefined;
    const keys = ssh.keyFile
      ? [loadPrivateKey(node, this.keyFileHere(expandHome(ssh.keyFile, this.home)))]
      : DEFAULT_KEY_FILES.map((f) => join(this.home, ".ssh", f))
          .filter((p) => existsSync(p))
          .flatMap((p) => {
            try {
              return [loadPrivateKey(node, p)];
            } catch {
              return []; // a default key we cannot use (e.g. with passphrase) is simply not offered
            }
          });
    const password = ssh.passwordEnv ? await this.password(node, ssh.user, ssh.passwordEnv) : undefined;
    if (!keys.length && !agent && password === undefined)
      throw new HostError(node, `no way to log in as ${ssh.user}: set ssh.keyFile or ssh.passwordEnv in the config, or start an ssh-agent holding the key (SSH_AUTH_SOCK is not set)`);
    return { keys, agent, password };
  }

  /** The configured key file, or the replicated copy when the configured one is not on this machine. */
  private keyFileHere(path: string): string {
    return !existsSync(path) && this.replicatedKey && existsSync(this.replicatedKey) ? this.replicatedKey : path;
  }

  private password(node: string, user: string, name: string): Promise<string> {
    const fromEnv = this.env[name];
    if (fromEnv) return Promise.resolve(fromEnv);
    let answer = this.passwords.get(name);
    if (!answer) {
      if (!this.prompt)
        throw new HostError(node, `the SSH password is expected in environment variable ${name} (ssh.passwordEnv), which is not set; run: read -rs ${name} && export ${name}  (or run from a terminal to be asked)`);
      answer = this.prompt(`SSH password for ${user} (${name}, used for every node that names it): `);
      this.passwords.set(name, answer);
    }
    return answer;
  }
}
