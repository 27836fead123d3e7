// Running build-time tools (apt-get, dpkg-deb, createrepo_c): stdout back, a clear error with stderr on failure.

export async function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  let proc;
  try {
    proc = Bun.spawn(cmd, { cwd: opts.cwd, env: { ...process.env, LC_ALL: "C", ...opts.env }, stdout: "pipe", stderr: "pipe" });
  } catch (e) {
    throw new Error(`cannot run ${cmd[0]}: ${(e as Error).message} (is it installed?)`);
  }
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited ${code}:\n${stderr.trim() || stdout.trim()}`);
  return stdout;
}
