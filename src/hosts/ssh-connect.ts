// Opening one authenticated SSH connection with ssh2, with the host key checked against
// known_hosts per policy, and every way it can fail turned into one sentence an operator can act on.
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { Client, type AuthenticationType, type ConnectConfig } from "ssh2";
import type { SshSettings } from "../config/types.ts";
import { HostError } from "./host.ts";
import type { SshCredentials } from "./credentials.ts";
import {
  entryFingerprint,
  fingerprint,
  keyTypeOf,
  knownHostsLine,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  verifyHostKey,
  type KnownHostEntry,
} from "./known-hosts.ts";
import { shq } from "../util/sh.ts";

export interface SshTarget {
  /** Node name, for messages. */
  name: string;
  address: string;
  port: number;
  user: string;
  credentials: SshCredentials;
  hostKeyPolicy: SshSettings["hostKeyPolicy"];
  knownHostsFile: string;
  connectTimeoutMs: number;
  /**
   * Told (one line) when accept-new recorded a key on first contact: trust on first use is only as
   * good as the operator comparing that fingerprint with the node's own (docs/ssh-host-keys.md).
   */
  onHostKeyRecorded?: (message: string) => void;
}

// Host key algorithms ssh2 offers, strongest first; a known key type moves its algorithms to
// the front so the server presents the key we can check (as OpenSSH's client does).
const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

function hostKeyAlgorithmsFor(knownTypes: string[]): string[] | undefined {
  const preferred = knownTypes.flatMap((t) => HOST_KEY_ALGORITHMS[t] ?? []);
  if (!preferred.length) return undefined;
  const all = Object.values(HOST_KEY_ALGORITHMS).flat();
  return [...new Set([...preferred, ...all])];
}

const errnoText = (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e);

function readKnownHosts(t: SshTarget): KnownHostEntry[] {
  try {
    return parseKnownHosts(readFileSync(t.knownHostsFile, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new HostError(t.name, `cannot read ${t.knownHostsFile} (ssh.knownHostsFile): ${errnoText(e)}`);
  }
}

/** Appends the key; returns why it could not, so the connection is refused rather than left unrecorded. */
function recordHostKey(t: SshTarget, blob: Buffer): string | undefined {
  try {
    mkdirSync(dirname(t.knownHostsFile), { recursive: true, mode: 0o700 });
    appendFileSync(t.knownHostsFile, knownHostsLine(t.address, t.port, blob), { mode: 0o600 });
    return undefined;
  } catch (e) {
    return `cannot record the host key of ${t.address}:${t.port} in ${t.knownHostsFile} (ssh.knownHostsFile): ${errnoText(e)}`;
  }
}

/** "recorded host key of master2 (192.168.217.20): ssh-ed25519 SHA256:…; compare it out of band" */
export const recordedText = (t: Pick<SshTarget, "name" | "address" | "port">, presented: string) =>
  `recorded host key of ${t.name} (${t.port === 22 ? t.address : `${t.address}:${t.port}`}): ${presented}; compare it out of band`;

const shortType = (type: string) => type.replace(/^ssh-/, "").replace(/^ecdsa-sha2-nistp\d+$/, "ecdsa");

/** Decides on the presented host key; returns the reason to refuse it, or undefined to accept. */
function checkHostKey(t: SshTarget, entries: KnownHostEntry[], blob: Buffer): string | undefined {
  if (t.hostKeyPolicy === "off") return undefined;
  const where = `${t.address}:${t.port}`;
  const name = knownHostsName(t.address, t.port);
  const presented = `${keyTypeOf(blob)} ${fingerprint(blob)}`;
  const verdict = verifyHostKey(entries, t.address, t.port, blob);
  switch (verdict.kind) {
    case "known":
      return undefined;
    case "unknown":
      if (t.hostKeyPolicy === "accept-new") {
        const failed = recordHostKey(t, blob);
        if (!failed) t.onHostKeyRecorded?.(recordedText(t, presented));
        return failed;
      }
      return (
        `host key of ${where} is not in ${t.knownHostsFile} (ssh.hostKeyPolicy: strict). It presents ${presented}. ` +
        `Check that fingerprint on the node (ssh-keygen -lf /etc/ssh/ssh_host_${shortType(keyTypeOf(blob))}_key.pub), then add it with: ` +
        `ssh-keyscan -p ${t.port} -t ${shortType(keyTypeOf(blob))} ${t.address} >> ${t.knownHostsFile}  — or set ssh.hostKeyPolicy: accept-new to record keys on first contact`
      );
    case "changed":
      return (
        `HOST KEY CHANGED for ${where}! ${t.knownHostsFile} line ${verdict.entry.line} has ${verdict.entry.keyType} ${entryFingerprint(verdict.entry)}, ` +
        `but the host now presents ${presented}. Someone may be intercepting the connection, or the node was reinstalled. ` +
        `Refusing to connect. Only if you know it was reinstalled, remove the old key with: ssh-keygen -R ${shq(name)} -f ${t.knownHostsFile}`
      );
    case "revoked":
      return `host key of ${where} (${presented}) is marked @revoked in ${t.knownHostsFile} line ${verdict.entry.line}; refusing to connect`;
    case "other-types":
      return (
        `${where} presented ${presented}, but ${t.knownHostsFile} knows it only with ${verdict.types.join(", ")} keys; refusing a key that cannot be checked. ` +
        `If the node's host keys were changed on purpose, remove the old entries (ssh-keygen -R ${shq(name)} -f ${t.knownHostsFile}) and connect again`
      );
  }
}

type Stage = "tcp" | "handshake" | "auth";

/** Login methods in the order we try them, each with the server's name for it. */
function authAttempts(t: SshTarget) {
  const username = t.user;
  const { keys, agent, password } = t.credentials;
  const attempts: { method: AuthenticationType; auth: object }[] = [
    ...keys.map((k) => ({ method: "publickey" as const, auth: { type: "publickey", username, key: k.data } })),
    ...(agent ? [{ method: "publickey" as const, auth: { type: "agent", username, agent } }] : []),
  ];
  if (password !== undefined) {
    attempts.push({ method: "password", auth: { type: "password", username, password } });
    // Servers that take passwords only through PAM conversation (KbdInteractiveAuthentication).
    attempts.push({
      method: "keyboard-interactive",
      auth: { type: "keyboard-interactive", username, prompt: (_n: string, _i: string, _l: string, prompts: unknown[], finish: (a: string[]) => void) => finish(prompts.map(() => password)) },
    });
  }
  return attempts;
}

/**
 * Whether a connection failed because the node does not answer at all (powered off, cut off): the
 * "cannot reach" reasons below. A refused host key or a failed login is not "down": it is refused.
 */
export const isUnreachable = (err: unknown): boolean => err instanceof HostError && err.reason.startsWith("cannot reach ");

export async function openConnection(t: SshTarget): Promise<Client> {
  const where = `${t.address}:${t.port}`;
  const who = `${t.user}@${t.address}`;
  const seconds = `${+(t.connectTimeoutMs / 1000).toFixed(1)}s`;
  const entries = t.hostKeyPolicy === "off" ? [] : readKnownHosts(t);
  const attempts = authAttempts(t);
  const tried = new Set<string>();
  let serverMethods: string[] | undefined;
  let hostKeyRefusal: string | undefined;
  let stage: Stage = "tcp";

  const triedText = () => `tried: ${[...tried].join(", ") || "nothing the server accepts"}${serverMethods ? `; server accepts: ${serverMethods.join(", ")}` : ""}`;
  const authFailed = () => `authentication failed for ${who} (${triedText()}); check ssh.user, the key (ssh.keyFile or ssh-agent) and the password (ssh.passwordEnv)`;
  const timeoutText: Record<Stage, () => string> = {
    tcp: () => `cannot reach ${where} within ${seconds} (no answer: check the address, the network path and that sshd listens on port ${t.port})`,
    handshake: () => `${where} accepted the TCP connection but did not complete an SSH handshake within ${seconds} (is sshd healthy there, and is ${t.port} an SSH port?)`,
    auth: () => `authentication for ${who} did not finish within ${seconds} (${triedText()})`,
  };

  function describe(err: Error & { code?: string; level?: string }): string {
    if (hostKeyRefusal) return hostKeyRefusal;
    if (err.level === "client-authentication") return authFailed();
    if (err.level === "client-timeout") return timeoutText[stage]();
    if (err.level === "client-dns" || err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") return `cannot resolve ${t.address} (use an IP address or fix name resolution on this machine)`;
    switch (err.code) {
      case "ECONNREFUSED":
        return `cannot reach ${where}: connection refused (is sshd running there and listening on port ${t.port}?)`;
      case "EHOSTUNREACH":
      case "ENETUNREACH":
        return `cannot reach ${where}: no route to host (check the address and the network)`;
      case "ETIMEDOUT":
        return timeoutText.tcp();
      case "ECONNRESET":
        return `${where} reset the connection during the ${stage === "tcp" ? "connect" : stage} (sshd may refuse this client, e.g. MaxStartups or tcp wrappers)`;
    }
    return `cannot connect to ${where} as ${t.user}: ${err.message}`;
  }

  return new Promise<Client>((resolve, reject) => {
    const client = new Client();
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.removeAllListeners();
      client.on("error", () => {}); // late errors from the socket being torn down
      client.destroy();
      reject(new HostError(t.name, message));
    };
    const timer = setTimeout(() => fail(timeoutText[stage]()), t.connectTimeoutMs);
    client
      .on("connect", () => (stage = "handshake"))
      .on("handshake", () => (stage = "auth"))
      .on("ready", () => {
        settled = true;
        clearTimeout(timer);
        client.removeAllListeners();
        // From here on, failures surface through the channels and the "close" event.
        client.on("error", () => {});
        resolve(client);
      })
      .on("error", (err) => fail(describe(err)))
      .on("close", () => fail(hostKeyRefusal ?? `${where} closed the connection during the ${stage === "tcp" ? "connect" : stage}`));

    const config: ConnectConfig = {
      host: t.address,
      port: t.port,
      username: t.user,
      // Our own timer gives the message; ssh2's only guards against a leak should ours not fire.
      readyTimeout: t.connectTimeoutMs + 5000,
      // A node that lost power sends no FIN: without keepalives a command on it would wait for its
      // own timeout (minutes). 4 unanswered probes 5 s apart = 20 s to name the dead node.
      keepaliveInterval: 5_000,
      keepaliveCountMax: 4,
      hostVerifier: (key: Buffer) => {
        hostKeyRefusal = checkHostKey(t, entries, key);
        return hostKeyRefusal === undefined;
      },
      authHandler: (methodsLeft, _partial, next) => {
        if (methodsLeft) serverMethods = methodsLeft;
        const i = attempts.findIndex((a) => !methodsLeft || methodsLeft.includes(a.method));
        if (i < 0) return next(false as never);
        const [attempt] = attempts.splice(i, 1);
        tried.add(attempt!.method);
        next(attempt!.auth as never);
      },
    };
    const algorithms = hostKeyAlgorithmsFor(knownKeyTypes(entries, t.address, t.port));
    if (algorithms) config.algorithms = { serverHostKey: algorithms as never };
    client.connect(config);
  });
}
