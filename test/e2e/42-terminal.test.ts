// Issue 19 item 3 on the lab: `install` on master1 watched through a real terminal (tmux on the lab host,
// `ssh -tt` to master1, so the binary sees a TTY and draws its live status line). The screen, read back
// with capture-pane, must have no line where the status line ("▸ phase …") and a log line are glued, as
// "▸ preflight 0.8s [master1 0.8s]preflight: every check passed" was. The cluster is installed by the
// suites before, so this run checks every phase and logs on the way (preflight's table among them).
import { afterAll, expect, test } from "bun:test";
import { sshArgv } from "../lab/lab-client.ts";
import { deploy } from "./support.ts";

const session = `e2e-terminal-${process.pid}`;
const tmux = (...args: string[]) => Bun.spawnSync(["tmux", ...args], { stdout: "pipe", stderr: "pipe" });
afterAll(() => void tmux("kill-session", "-t", session));

test("install in a real terminal: no screen line holds both the live status line and a log line", async () => {
  await deploy();
  const ssh = [...sshArgv("master1"), "-tt"].map((a) => `'${a}'`).join(" ");
  const cmd = `${ssh} 'cd /root && ./k8s-ha-offline install -c cluster.yaml --yes; echo "INSTALL EXIT $?"'; sleep 600`;
  expect(tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "80", cmd).exitCode).toBe(0);
  let screen = "";
  for (let i = 0; i < 1200 && !/INSTALL EXIT \d+/.test(screen); i++) {
    await Bun.sleep(500);
    screen = tmux("capture-pane", "-p", "-J", "-t", session, "-S", "-2000").stdout.toString();
  }
  expect(screen).toMatch(/INSTALL EXIT 0/);
  const lines = screen.split("\n").map((l) => l.trimEnd()).filter(Boolean);
  // The run drew phases (finished lines) and logged (preflight's table) on the same screen...
  expect(lines.some((l) => /^✓ preflight\b/.test(l))).toBe(true);
  expect(lines.some((l) => /\bNODE\b.*\bCHECK\b|every check passed|nothing to do/.test(l))).toBe(true);
  // ...and the status line's mark never shares a line with anything that follows it.
  const glued = lines.filter((l) => l.includes("▸"));
  expect(glued).toEqual([]);
}, 900_000);
