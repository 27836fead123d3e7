// `npm run bench`: every benchmark, one after the other (they compare against a real peer in the
// same run and write test/bench/results/*.md, which the README quotes). Not part of `npm test`.
import { join } from "node:path";

const BENCHES = ["startup.ts", "fanout.ts", "fanout-upload.ts", "registry.ts"];
const only = process.argv.slice(2);
let failed = 0;
for (const b of BENCHES.filter((b) => !only.length || only.some((o) => b.startsWith(o)))) {
  console.log(`\n### ${b}`);
  const p = Bun.spawn([process.execPath, join(import.meta.dir, b)], { stdout: "inherit", stderr: "inherit" });
  if ((await p.exited) !== 0) failed++;
}
process.exit(failed ? 1 : 0);
