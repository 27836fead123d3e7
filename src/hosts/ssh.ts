// A node reached over SSH (ssh2). Commands run as `sh -c` under root (through `sudo -n` when
// logged in as another user), wrapped in the node's `timeout` so a command we gave up on does
// not keep running there. Uploads stream into the command's stdin: on loopback that was as fast
// as SFTP with 64 requests in flight and faster than OpenSSH's scp (test/bench/results/upload.md),
// and unlike SFTP it also works through sudo.
import { createReadStream } from "node:fs";
import { constants as osConstants } from "node:os";
import type { Client, ClientChannel } from "ssh2";
import type { HostSpec } from "../config/types.ts";
import { HostError } from "./host.ts";
import { expandHome, type SshCredentials } from "./credentials.ts";
import { createLimiter, type Limiter } from "./limit.ts";
import { toLogSink, type LogTarget } from "./log-sink.ts";
import { openConnection, type SshTarget } from "./ssh-connect.ts";
import { sh, type ShellCommand } from "../util/sh.ts";
import { ShellHost, timeoutError, type RawResult, type StdinSource } from "./shell-host.ts";

export type { SshTarget } from "./ssh-connect.ts";

export interface SshHostOptions {
  /** Where command transcripts go: a LogSink or the CLI's run logger. */
  log?: LogTarget;
  /** Commands in flight on one connection; sshd's MaxSessions defaults to 10. */
  maxChannels?: number;
}

// Grace the node-side `timeout` gives beyond ours, so our clearer error always comes first.
const REMOTE_TIMEOUT_GRACE_S = 2;

const exitCodeOfSignal = (signal: string) => 128 + ((osConstants.signals as Record<string, number>)[`SIG${signal}`] ?? 127);

/** The connection settings of a config node, with its credentials already resolved. */
export function sshTargetFor(spec: HostSpec, credentials: SshCredentials): SshTarget {
  return {
    name: spec.name,
    address: spec.address,
    port: spec.ssh.port,
    user: spec.ssh.user,
    credentials,
    hostKeyPolicy: spec.ssh.hostKeyPolicy,
    knownHostsFile: expandHome(spec.ssh.knownHostsFile),
    connectTimeoutMs: spec.ssh.connectTimeoutSeconds * 1000,
  };
}

export class SshHost extends ShellHost {
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;
  private closed = false;
  private readonly channels: Limiter;
  /** Logged in with uid 0 (root, or another name for it): no sudo needed. */
  private asRoot: boolean;

  private constructor(
    private readonly target: SshTarget,
    opts: SshHostOptions,
  ) {
    super(target.name, target.address, toLogSink(opts.log));
    this.channels = createLimiter(opts.maxChannels ?? 8);
    this.asRoot = target.user === "root";
  }

  /** Connects (and for a user not named root checks uid 0 or passwordless sudo); rejects with a HostError saying what went wrong. */
  static async connect(target: SshTarget, opts: SshHostOptions = {}): Promise<SshHost> {
    const host = new SshHost(target, opts);
    await host.connection();
    if (!host.asRoot) {
      try {
        await host.checkPrivileges();
      } catch (e) {
        await host.close();
        throw e;
      }
    }
    return host;
  }

  /** The live connection; reconnects once it was lost (e.g. the node rebooted). */
  private connection(): Promise<Client> {
    if (this.closed) return Promise.reject(new HostError(this.name, "connection was already closed"));
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= openConnection(this.target)
      .then((client) => {
        client.on("close", () => {
          if (this.client === client) this.client = null;
        });
        this.client = client;
        return client;
      })
      .finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async checkPrivileges(): Promise<void> {
    const who = `${this.target.user}@${this.address}`;
    const probe = sh`[ "$(id -u)" = 0 ] && echo uid0 || sudo -n true`;
    const r = await this.runCommandLine(probe, undefined, this.target.connectTimeoutMs, probe.text);
    if (r.code === 0) {
      this.asRoot = r.stdout.toString().trim() === "uid0";
      return;
    }
    const said = r.stderr.toString().trim();
    if (r.code === 127 || /not found/.test(said))
      throw new HostError(this.name, `${who} is not root and sudo is not installed on the node; set ssh.user: root, or install sudo and allow ${this.target.user} passwordless sudo`);
    throw new HostError(
      this.name,
      `${who} is not root and cannot use sudo without a password (sudo said: ${said || `exit ${r.code}`}); add "${this.target.user} ALL=(ALL) NOPASSWD: ALL" to /etc/sudoers.d/k8s-ha-offline on the node, or set ssh.user: root`,
    );
  }

  protected runRaw(script: ShellCommand, stdin: StdinSource | undefined, timeoutMs: number, shown: string): Promise<RawResult> {
    const remoteSeconds = Math.ceil(timeoutMs / 1000) + REMOTE_TIMEOUT_GRACE_S;
    // The whole script is one quoted word for the login shell, which hands it to `sh -c` unchanged.
    const line = sh`${this.asRoot ? sh`` : sh`sudo -n `}timeout -k 5 ${remoteSeconds} sh -c ${script.text}`;
    return this.runCommandLine(line, stdin, timeoutMs, shown);
  }

  /** Runs one command line in its own channel; `shown` is what error messages call it. */
  private runCommandLine(line: ShellCommand, stdin: StdinSource | undefined, timeoutMs: number, shown: string): Promise<RawResult> {
    return this.channels(async () => {
      // sshd frees a session slot a moment after our side saw the channel close, so under load an
      // open can be refused although we are under MaxSessions. Nothing ran yet: trying again is safe.
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.runInChannel(line, stdin, timeoutMs, shown);
        } catch (e) {
          if (!(e instanceof ChannelRefused) || attempt >= 6) throw e instanceof ChannelRefused ? e.error : e;
          await Bun.sleep(100 * attempt);
        }
      }
    });
  }

  private async runInChannel(line: ShellCommand, stdin: StdinSource | undefined, timeoutMs: number, shown: string): Promise<RawResult> {
    const client = await this.connection();
    return new Promise<RawResult>((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let settled = false;
      const settle = (finish: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        finish();
      };
      const timer = setTimeout(() => {
        settle(() => reject(timeoutError(this.name, timeoutMs, shown)));
        channel?.signal("KILL");
        channel?.close();
      }, timeoutMs);
      client.exec(line.text, (err, ch) => {
        if (err) {
          const error = new HostError(this.name, `cannot start a command over SSH (${err.message}): ${shown}`);
          return settle(() => reject(/open failed/i.test(err.message) ? new ChannelRefused(error) : error));
        }
        channel = ch;
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let code: number | null = null;
        ch.on("data", (d: Buffer) => stdout.push(d));
        ch.stderr.on("data", (d: Buffer) => stderr.push(d));
        ch.on("exit", (c: number | null, signal?: string) => (code = c ?? (signal ? exitCodeOfSignal(signal) : null)));
        ch.on("close", () =>
          settle(() =>
            code === null
              ? reject(new HostError(this.name, `connection lost while running: ${shown}`))
              : resolve({ code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) }),
          ),
        );
        if (stdin === undefined) ch.end();
        else if (typeof stdin === "string" || stdin instanceof Uint8Array) ch.end(stdin);
        else
          createReadStream(stdin.file)
            .on("error", (e) => {
              settle(() => reject(new HostError(this.name, `cannot read ${stdin.file}: ${e.message}`)));
              ch.close();
            })
            .pipe(ch);
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const client = this.client ?? (await this.connecting?.catch(() => null));
    this.client = null;
    if (!client) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.destroy();
        resolve();
      }, 2000);
      client.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      client.end();
    });
  }
}

/** The server refused to open a channel (no command started); carries the error to report if retries run out. */
class ChannelRefused extends Error {
  constructor(readonly error: HostError) {
    super(error.message);
  }
}
