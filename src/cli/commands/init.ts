import { existsSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { renderInitConfig } from "../../config/init.ts";
import { UsageError } from "../../util/errors.ts";

export default async function init(flags: { output: string; force?: boolean }): Promise<number> {
  const out = resolve(flags.output);
  if (existsSync(out) && !flags.force) throw new UsageError(`${out} already exists`, "pass --force to overwrite it, or -o to write elsewhere");
  writeFileSync(out, renderInitConfig(), { mode: 0o644 });
  console.log(`wrote ${out}\nnext: edit it (addresses, interface, VIP), then: k8s-ha-offline install -c ${flags.output} --dry-run`);
  return 0;
}
