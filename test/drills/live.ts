// A command run on master1 over SSH whose output is watched as it comes, so a drill can SIGKILL it at a
// chosen moment (its pid is the shell's, which execs the binary). Used by the interrupt and upgrade drills.
import { labExec, sshArgv } from "../lab/lab-client.ts";

export interface LiveRun {
  text: () => string;
  ended: () => boolean;
  pid: Promise<number>;
  exited: Promise<{ code: number; text: string }>;
}

/** `command` run in /root on master1 (exec'd, so the pid printed is the command's). */
export function startOnMaster1(command: string): LiveRun {
  const proc = Bun.spawn([...sshArgv("master1"), "--", `cd /root && echo "installer-pid $$" >&2 && exec ${command}`], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const c of s) text += new TextDecoder().decode(c);
  };
  const exited = Promise.all([pump(proc.stdout), pump(proc.stderr)]).then(async () => ({ code: await proc.exited, text }));
  let ended = false;
  exited.then(() => (ended = true));
  const live: LiveRun = { text: () => text, ended: () => ended, exited, pid: Promise.resolve(0) };
  live.pid = waitText(live, /installer-pid (\d+)/, 30_000).then((m) => Number(m[1]));
  return live;
}

export async function waitText(r: LiveRun, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = r.text().match(re);
    if (m) return m;
    if (r.ended()) throw new Error(`the command ended before ${re} appeared:\n${r.text().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${r.text().slice(-3000)}`);
    await Bun.sleep(50);
  }
}

/** SIGKILL the run and wait until its process is gone on master1. */
export async function killRun(r: LiveRun): Promise<void> {
  const pid = await r.pid;
  await labExec("master1", `kill -9 ${pid}`, { check: true });
  await untilGone(pid);
  await r.exited;
}

export async function untilGone(pid: number): Promise<void> {
  await labExec("master1", `for i in $(seq 100); do kill -0 ${pid} 2>/dev/null || exit 0; sleep 0.1; done; exit 1`, { check: true });
}

