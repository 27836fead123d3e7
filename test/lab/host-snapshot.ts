// What the lab may leave on the host, gathered so a test can compare before/after.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { LAB_STATE } from "./lab-client";

export interface HostSnapshot {
  links: string[];
  mounts: string[];
  /** Processes of the lab: in a k8s-lab cgroup, or nspawn/debootstrap by name. */
  processes: string[];
  /** cgroup directories the lab or nspawn make (k8s-lab, stray payload/supervisor). */
  cgroups: string[];
  /** Every path under the state dir except the kept base cache. */
  stateFiles: string[];
  nspawnRunDir: string[];
}

function listTree(dir: string, skip: (rel: string) => boolean, rel = ""): string[] {
  if (!existsSync(join(dir, rel))) return [];
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (skip(r)) continue;
    out.push(r);
    const st = statSync(join(dir, r), { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...listTree(dir, skip, r));
  }
  return out;
}

function readOr(path: string, fallback = ""): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return fallback; // the process or file went away while we looked
  }
}

export function linkNames(): string[] {
  return readdirSync("/sys/class/net").sort();
}

function labProcesses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    // A zombie has let go of everything (its cgroup path lingers in /proc until its parent, here the host's
    // PID 1, reaps it): not a process the lab left running.
    const stat = readOr(`/proc/${pid}/stat`);
    if (/^\d+ \(.*\) Z /s.test(stat)) continue;
    const cgroup = readOr(`/proc/${pid}/cgroup`);
    const cmd = readOr(`/proc/${pid}/cmdline`).split("\0").join(" ").trim();
    if (cgroup.includes("/k8s-lab") || /systemd-nspawn|debootstrap/.test(cmd)) out.push(`${pid} ${cmd}`);
  }
  return out.sort();
}

function labCgroups(): string[] {
  const out: string[] = [];
  const roots = ["/sys/fs/cgroup", ...readdirSync("/sys/fs/cgroup").map((h) => join("/sys/fs/cgroup", h))];
  for (const root of roots) {
    for (const name of ["k8s-lab", "payload", "supervisor"]) {
      if (existsSync(join(root, name))) out.push(join(root, name));
    }
  }
  return out.sort();
}

export function hostSnapshot(): HostSnapshot {
  return {
    links: linkNames(),
    mounts: readFileSync("/proc/mounts", "utf8").split("\n").filter(Boolean).sort(),
    processes: labProcesses(),
    cgroups: labCgroups(),
    stateFiles: listTree(LAB_STATE, (r) => r === "cache" || r.startsWith("cache/")),
    nspawnRunDir: listTree("/run/systemd/nspawn", () => false),
  };
}

/** Lines of `after` not in `before`, per category; empty when the host is as it was. */
export function leftovers(before: HostSnapshot, after: HostSnapshot): Record<string, string[]> {
  const diff: Record<string, string[]> = {};
  for (const key of Object.keys(after) as (keyof HostSnapshot)[]) {
    const added = after[key].filter((x) => !before[key].includes(x));
    if (added.length) diff[key] = added;
  }
  return diff;
}
