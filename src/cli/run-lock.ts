// One changing command at a time on master1: two installs racing would write the same files and
// restart the same services under each other. The lock is a file naming its holder; a holder that
// was killed (SIGKILL, power cut) cannot remove it, so a lock whose process is gone is taken over.
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { InstallError } from "../util/errors.ts";

interface Holder {
  pid: number;
  /** Start time of the process (clock ticks since boot): a reused pid is not the holder. */
  since: string;
  command: string;
  started: string;
}

const startTicks = (pid: number): string | undefined => {
  try {
    // Field 22 of /proc/PID/stat; the command name (field 2) may hold spaces, so count from its ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
};

function readHolder(file: string): Holder | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Holder;
  } catch {
    return undefined; // unreadable or half-written: its writer died before finishing it
  }
}

/** Take the lock in stateDir or fail naming the running holder; returns the release. */
export function acquireRunLock(stateDir: string, command: string): () => void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = join(stateDir, "run.lock");
  const me: Holder = { pid: process.pid, since: startTicks(process.pid) ?? "", command, started: new Date().toISOString() };
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
