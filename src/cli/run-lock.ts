// One changing command at a time in the cluster: two installs racing would write the same files and
// restart the same services under each other. The lock is a file naming its holder; a holder that
// was killed (SIGKILL, power cut) cannot remove it, so a lock whose process is gone is taken over.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { InstallError } from "../util/errors.ts";
import type { Host } from "../hosts/host.ts";
import { reasonOn } from "../hosts/host.ts";
import { sh } from "../util/sh.ts";

export interface Holder {
  /** The master the holder runs on (absent in locks of older versions: this machine). */
  node?: string;
  pid: number;
  /** Start time of the process (clock ticks since boot): a reused pid is not the holder. */
  since: string;
  command: string;
  started: string;
}

// Field 22 of /proc/PID/stat; the command name (field 2) may hold spaces, so count from its ")".
const ticksOf = (stat: string): string | undefined => (stat.includes(")") ? stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] : undefined);

const startTicks = (pid: number): string | undefined => {
  try {
    return ticksOf(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
};

function parseHolder(text: string | undefined): Holder | undefined {
  try {
    const h = JSON.parse(text ?? "") as Holder;
    return Number.isInteger(h.pid) ? h : undefined;
  } catch {
    return undefined; // unreadable or half-written: its writer died before finishing it
  }
}

function readHolder(file: string): Holder | undefined {
  try {
    return parseHolder(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/** Take the lock in stateDir or fail naming the running holder; returns the release. */
export function acquireRunLock(stateDir: string, command: string, node?: string): () => void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = join(stateDir, "run.lock");
  const me = thisRun(command, node);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, JSON.stringify(me) + "\n");
      closeSync(fd);
      return () => {
        if (readHolder(file)?.pid === me.pid) unlinkSync(file);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const held = readHolder(file);
    if (held?.node !== undefined && held.node !== node)
      // Taken by a run on another master (acquireClusterLock): its liveness is that master's to tell.
      throw new InstallError(
        `another k8s-ha-offline ${held.command} is running from ${held.node} (pid ${held.pid}, since ${held.started}); wait for it to finish` +
          ` (its lock is ${file}; when you are sure that run is gone — no such pid on ${held.node} — remove the file and run again)`,
      );
    if (held && held.pid !== process.pid && startTicks(held.pid) === held.since)
      throw new InstallError(
        `another k8s-ha-offline ${held.command} is running on this machine (pid ${held.pid}, since ${held.started}); wait for it to finish` +
          ` (its lock is ${file}; it is taken over by itself once that process is gone)`,
      );
    try {
      unlinkSync(file); // the holder is gone: killed, or the machine rebooted
    } catch {
      // another starter removed it first; try again
    }
  }
  throw new InstallError(`could not take the lock ${file}`);
}

const thisRun = (command: string, node?: string): Holder => ({
  ...(node !== undefined ? { node } : {}),
  pid: process.pid,
  since: startTicks(process.pid) ?? "",
  command,
  started: new Date().toISOString(),
});

export interface LockMaster {
  name: string;
  host: () => Promise<Host>;
}

/**
 * The lock on the other masters (this one holds acquireRunLock's): two masters cannot change the
 * cluster at once. Taken in config order, so two runs started together meet at the first master and
 * one of them stops there. A master that holds a live holder's lock refuses the run (liveness: the
 * holder's pid and start time on the holder's node, asked over SSH); a lock whose holder is gone is
 * taken over; an unreachable master is skipped with a warning (it cannot start a run either while it
 * is down, and coming back it sees the newer state generation). Returns the release.
 */
export async function acquireClusterLock(opts: {
  self: string;
  /** Every control-plane node but this one, in config order. */
  masters: readonly LockMaster[];
  stateDir: string;
  command: string;
  warn: (message: string) => void;
}): Promise<() => Promise<void>> {
  const file = `${opts.stateDir}/run.lock`;
  const me = thisRun(opts.command, opts.self);
  const text = JSON.stringify(me) + "\n";
  const taken: Host[] = [];
  const release = async () => {
    for (const host of taken.splice(0).reverse()) {
      try {
        const held = parseHolder(new TextDecoder().decode((await host.readFile(file)) ?? new Uint8Array()));
        if (held && held.node === me.node && held.pid === me.pid) await host.exec(sh`rm -f ${file}`);
      } catch (err) {
        opts.warn(`warning: could not remove the run lock ${file} on ${host.name}: ${reasonOn(host.name, err)} (the next run takes it over)`);
      }
    }
  };
  // A lock without a node (older versions) was written by a run on the master that holds it.
  const alive = async (holder: Holder, on: string): Promise<boolean | undefined> => {
    const node = holder.node ?? on;
    if (node === opts.self) return startTicks(holder.pid) === holder.since;
    const where = opts.masters.find((m) => m.name === node);
    if (!where) return undefined;
    try {
      const r = await (await where.host()).exec(sh`cat /proc/${holder.pid}/stat 2>/dev/null`, { check: false });
      return r.code === 0 && ticksOf(r.stdout) === holder.since;
    } catch {
      return undefined; // the holder's node cannot be asked
    }
  };
  try {
    for (const master of opts.masters) {
      let host: Host;
      try {
        host = await master.host();
      } catch (err) {
        opts.warn(`warning: ${master.name} is not reachable, its run lock is not taken: ${reasonOn(master.name, err)}`);
        continue;
      }
      for (let attempt = 0; ; attempt++) {
        // noclobber: the lock file is created only when absent, in one step on the node.
        const r = await host.exec(sh`umask 077 && mkdir -p ${opts.stateDir} && (set -C; cat > ${file}) 2>/dev/null`, { stdin: text, check: false });
        if (r.code === 0) {
          taken.push(host);
          break;
        }
        const held = parseHolder(new TextDecoder().decode((await host.readFile(file)) ?? new Uint8Array()));
        if (held && !(held.node === me.node && held.pid === me.pid)) {
          const live = await alive(held, master.name);
          const who = `k8s-ha-offline ${held.command} from ${held.node ?? master.name} (pid ${held.pid}, since ${held.started})`;
          if (live === undefined)
            throw new InstallError(
              `the run lock on ${master.name} is held by ${who}, and ${held.node ?? master.name} cannot be asked whether it still runs; ` +
                `when you are sure it does not, remove ${file} on ${master.name} and run again`,
            );
          if (live) throw new InstallError(`another ${who} is changing the cluster (its lock is ${file} on ${master.name}); wait for it to finish`);
        }
        if (attempt >= 2) throw new InstallError(`could not take the run lock ${file} on ${master.name}: ${r.stderr.trim() || `exit ${r.code}`}`);
        await host.exec(sh`rm -f ${file}`); // the holder is gone (killed, or its node rebooted)
      }
    }
  } catch (err) {
    await release(); // nothing half-taken
    throw err;
  }
  return release;
}
