// One connection per node for the whole run: opened on first use, shared by every phase,
// closed at the end. The node this binary runs on is used directly, without SSH.
import { networkInterfaces } from "node:os";
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import type { Host } from "./host.ts";
import { CredentialResolver } from "./credentials.ts";
import { LocalHost } from "./local.ts";
import { toLogSink, type LogSink, type LogTarget } from "./log-sink.ts";
import { SshHost, sshTargetFor, type SshHostOptions } from "./ssh.ts";

export interface HostPoolOptions {
  /** Only for reference; hosts are given to get(). */
  config?: Pick<ClusterConfig, "hosts">;
  /** Where every command's transcript goes (a LogSink, or the CLI's run logger). */
  log?: LogTarget;
  credentials?: CredentialResolver;
  /** Name of the node this binary runs on. Default: the node whose address is one of this machine's. */
  localNode?: string;
  /** This machine's addresses (default: all interface addresses). */
  localAddresses?: string[];
  ssh?: Omit<SshHostOptions, "log">;
  /**
   * Where a host key recorded on first contact (accept-new) is announced, one line per node, for the
   * operator to compare out of band. Default: the terminal (stderr).
   */
  notice?: (message: string) => void;
}

export function machineAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
}

export class HostPool {
  private readonly hosts = new Map<string, Promise<Host>>();
  private readonly log: LogSink;
  private readonly credentials: CredentialResolver;
  private readonly localAddresses: Set<string>;

  constructor(private readonly opts: HostPoolOptions = {}) {
    this.log = toLogSink(opts.log);
    this.credentials = opts.credentials ?? new CredentialResolver();
    this.localAddresses = new Set(opts.localAddresses ?? machineAddresses());
  }

  isLocal(spec: HostSpec): boolean {
    return this.opts.localNode !== undefined ? spec.name === this.opts.localNode : this.localAddresses.has(spec.address);
  }

  /** The connected Host for a node; concurrent callers share one connection attempt, a failed one is retried next time. */
  get(spec: HostSpec): Promise<Host> {
    const key = `${spec.name}@${spec.address}`;
    let host = this.hosts.get(key);
    if (!host) {
      host = this.open(spec);
      this.hosts.set(key, host);
      host.catch(() => this.hosts.delete(key));
    }
    return host;
  }

  private async open(spec: HostSpec): Promise<Host> {
    if (this.isLocal(spec)) return new LocalHost({ name: spec.name, address: spec.address, log: this.log });
    const credentials = await this.credentials.resolve(spec.name, spec.ssh);
    const notice = this.opts.notice ?? ((m: string) => process.stderr.write(`${m}\n`));
    return SshHost.connect({ ...sshTargetFor(spec, credentials), onHostKeyRecorded: notice }, { ...this.opts.ssh, log: this.log });
  }

  async closeAll(): Promise<void> {
    const open = [...this.hosts.values()];
    this.hosts.clear();
    await Promise.all(open.map((h) => h.then((host) => host.close()).catch(() => {})));
  }
}
