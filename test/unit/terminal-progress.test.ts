// Issue 19 item 3: on a terminal the live status line ("▸ phase 0.8s [hosts]") and log lines never
// share a screen line. The real progress display and logger run in a tmux pane (a real terminal);
// the screen is read back with capture-pane. tmux comes from test/debian-packages.txt.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { createProgress } from "../../src/cli/progress.ts";

const HARNESS = join(import.meta.dir, "fixtures/terminal/progress-harness.ts");
const session = `progress-test-${process.pid}`;
const tmux = (...args: string[]) => Bun.spawnSync(["tmux", ...args], { stdout: "pipe", stderr: "pipe" });
afterAll(() => void tmux("kill-session", "-t", session));

test.skipIf(!Bun.which("tmux"))("in a real terminal, no line holds both the status line and a log line", async () => {
  const started = tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "60", `${process.execPath} ${HARNESS}; sleep 30`);
  expect(started.exitCode).toBe(0);
  let screen = "";
  for (let i = 0; i < 100 && !screen.includes("HARNESS DONE"); i++) {
    await Bun.sleep(100);
    screen = tmux("capture-pane", "-p", "-t", session, "-S", "-200").stdout.toString();
  }
  expect(screen).toContain("HARNESS DONE");
  const lines = screen.split("\n").map((l) => l.trimEnd());
  // Every log line stands alone at the start of its own line...
  for (const node of ["master1", "master2", "master3"]) {
    for (let i = 1; i <= 3; i++) expect(lines).toContain(`log line ${node} ${i}`);
    expect(lines).toContain(`warning: warn line ${node}`);
  }
  // ...no line carries the status line's mark next to anything else, and the finished phase's result follows.
  expect(lines.filter((l) => l.includes("▸"))).toEqual([]);
  expect(lines.some((l) => /^✓ demo\s+\d+\.\ds$/.test(l))).toBe(true);
}, 30_000);

test("print() clears the status line before the text and redraws it after (the bytes a terminal gets)", () => {
  let bytes = "";
  const out = { isTTY: true, columns: 100, write: (s: string) => ((bytes += s), true) } as unknown as NodeJS.WriteStream;
  const p = createProgress(out, true, false);
  p.phaseStarted("etcd", "etcd", 3);
  bytes = "";
  p.print("hello");
  p.stop();
  expect(bytes).toMatch(/^\r\x1b\[2Khello\n▸ etcd \d\.\ds\r\x1b\[2K$/);
});
