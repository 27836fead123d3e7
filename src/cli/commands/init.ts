// `init`: the commented cluster.yaml to edit, filled from the bundle this binary carries.
import { existsSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { renderInitConfig, runtimeRefusal } from "../../config/init.ts";
import { embeddedLock } from "../../depot/lock.ts";
import { UsageError } from "../../util/errors.ts";
import { invokedAs } from "../invoked.ts";

export default async function init(flags: { output: string; force?: boolean; runtime?: string }): Promise<number> {
  const out = resolve(flags.output);
  if (existsSync(out) && !flags.force) throw new UsageError(`${out} already exists`, "pass --force to overwrite it, or -o to write elsewhere");
  const lock = embeddedLock();
  const refused = flags.runtime ? runtimeRefusal(flags.runtime, lock) : null;
  if (refused) throw new UsageError(`--runtime ${flags.runtime}: ${refused}`, "use --runtime containerd (the default), or a bundle built for Kubernetes 1.22/1.23 with docker");
  try {
    writeFileSync(out, renderInitConfig(lock, { runtime: flags.runtime }), { mode: 0o644 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const dir = dirname(out);
    const why =
      code === "EACCES" || code === "EPERM"
        ? `permission denied in ${dir}`
        : code === "EROFS"
          ? `${dir} is on a read-only file system`
          : code === "ENOENT"
            ? existsSync(dir) && statSync(dir).isDirectory() ? `${dir} does not take new files` : `${dir} does not exist`
            : (code ?? String(e));
    throw new UsageError(`cannot write ${out}: ${why}`, "pass -o with a path in a directory you can write, e.g. -o ./cluster.yaml");
  }
  const me = invokedAs();
  const from = lock ? `profile ${lock.profile}, Kubernetes ${lock.kubernetesVersion} from this binary's bundle` : "no bundle in this binary: set bundle.profile and kubernetes.version to the bundle you carry";
  console.log(`wrote ${out} (${from})\nnext: edit it (addresses, interface, VIP), then: ${me} install -c ${flags.output} --dry-run`);
  return 0;
}
