// Pid files for the processes the stand-in supervises itself when there is no systemd (tests).
import fs from "node:fs";
import path from "node:path";
import { rooted } from "./env.ts";

export const pidFile = (name: string) => rooted(`/var/run/kube-standin/${name}.pid`);

export function writePid(name: string, pid = process.pid) {
  fs.mkdirSync(path.dirname(pidFile(name)), { recursive: true });
  fs.writeFileSync(pidFile(name), String(pid));
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM the recorded process, wait for it to go, then forget it. */
export async function stopPid(name: string, waitMs = 10_000): Promise<boolean> {
  const f = pidFile(name);
  if (!fs.existsSync(f)) return false;
  const pid = Number(fs.readFileSync(f, "utf8"));
  fs.rmSync(f, { force: true });
  if (!pid || !alive(pid)) return false;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + waitMs;
  while (alive(pid) && Date.now() < deadline) await Bun.sleep(100);
  if (alive(pid)) process.kill(pid, "SIGKILL");
  return true;
}
