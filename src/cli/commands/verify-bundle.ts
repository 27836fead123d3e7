// `verify-bundle`: every payload file against the lock embedded at compile time.
import { existsSync } from "node:fs";
import { embeddedLock } from "../../depot/lock.ts";
import { verifyBundle } from "../../depot/verify.ts";
import { UsageError, InstallError } from "../../util/errors.ts";
import type { Logger } from "../../util/log.ts";
import { bundleInputs, type RunFlags } from "../run-inputs.ts";

function lockOrExplain() {
  const lock = embeddedLock();
  if (!lock)
    throw new UsageError(
      "this binary carries no bundle lock, so it cannot tell a good bundle from a bad one",
      "build it with `bun run build.ts bundle --profile <profile>`, which assembles the bundle and embeds its lock",
    );
  return lock;
}

/**
 * Problems as lines, or [] when the bundle matches the lock. stampFile: remember a passed check there
 * and trust it while no file of the bundle changed (see VerifyOptions).
 */
export async function bundleProblems(dir: string, stampFile?: string): Promise<string[]> {
  const lock = lockOrExplain();
  if (!existsSync(dir)) return [`bundle directory ${dir} does not exist (copy bundle-${lock.profile}/ next to the binary, or pass --bundle)`];
  const res = await verifyBundle(dir, lock, { concurrency: 8, ...(stampFile ? { stampFile } : {}) });
  return res.problems.map((p) => `${p.path}: ${p.problem}${p.expected !== undefined ? ` (expected ${p.expected}, found ${p.actual ?? "nothing"})` : ""}`);
}

export async function checkBundleBeforeInstall(dir: string, log: Logger, stampFile?: string): Promise<void> {
  const problems = await bundleProblems(dir, stampFile);
  if (problems.length)
    throw new InstallError(`the bundle at ${dir} does not match this binary's lock; no node was changed:\n  ${problems.join("\n  ")}`);
  log.info(`bundle ${dir}: every file matches the embedded lock`);
}

export default async function verifyBundleCommand(flags: RunFlags): Promise<number> {
  const lock = lockOrExplain();
  const dir = bundleInputs(flags).bundleDir;
  const problems = await bundleProblems(dir);
  if (problems.length) {
    console.error(`bundle ${dir}: ${problems.length} problem(s)\n  ${problems.join("\n  ")}`);
    return 1;
  }
  console.log(`bundle ${dir}: ok (${lock.files.length} files match the lock)`);
  return 0;
}
