// The depot inside a `bun build --compile` binary, laid out like the real one (entry src/cli*.ts):
// with src/depot/http/serve-worker.ts as an extra entrypoint its serving threads start; without it
// the binary still serves everything on one thread. (Bun places the embedded worker relative to the
// longest common *string* prefix of the entrypoints, so the entry's name must not start with "depot".)
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFixtureBundle } from "./support/oci-fixture.ts";

const ROOT = join(import.meta.dir, "..", "..");
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "depot-compiled-"));
  await writeFixtureBundle(join(dir, "bundle"));
  cpSync(join(ROOT, "src"), join(dir, "src"), { recursive: true });
  // The depot signs repositories with openpgp (loaded lazily, but bundled all the same).
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  writeFileSync(
    join(dir, "src", "cli-depot-test.ts"),
    `import { startDepotServer } from "./depot/server.ts";
import { parseEndpoint } from "./depot/endpoint.ts";
const log = { info: (m: string) => console.log(m), warn: (m: string) => console.log(m), debug: (m: string) => console.log(m) };
const [bundleDir, listen] = process.argv.slice(2);
const depot = await startDepotServer({ bundleDir: bundleDir!, listen: parseEndpoint(listen!), log, threads: 2 });
const res = await fetch(depot.url + "/v2/pause/manifests/3.5", { method: "HEAD" });
console.log("status " + res.status);
await depot.stop();
`,
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function compileAndRun(entries: string[], port: number): Promise<string> {
  const out = join(dir, `depot-${entries.length}`);
  // Relative entrypoints from the project directory, as build.ts gives them.
  const build = Bun.spawn([process.execPath, "build", "--compile", ...entries, "--outfile", out], {
    cwd: dir,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [buildErr, buildCode] = await Promise.all([new Response(build.stderr).text(), build.exited]);
  if (buildCode !== 0) throw new Error(`bun build failed: ${buildErr}`);
  const run = Bun.spawn([out, join(dir, "bundle"), `127.0.0.1:${port}`], { cwd: tmpdir(), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
  if (code !== 0) throw new Error(`compiled depot exited ${code}: ${stdout}${stderr}`);
  return stdout;
}

describe("depot in a compiled binary", () => {
  test("serving threads start when the worker is a build entrypoint", async () => {
    const out = await compileAndRun(["src/cli-depot-test.ts", "src/depot/http/serve-worker.ts"], 5116);
    expect(out).toContain("status 200");
    expect(out).toContain("(10 image repositories, 2 serving threads)");
    expect(out).not.toContain("did not start");
  }, 120_000);

  test("without the worker entrypoint it falls back to one thread and still serves", async () => {
    const out = await compileAndRun(["src/cli-depot-test.ts"], 5117);
    expect(out).toContain("status 200");
    expect(out).toContain("(10 image repositories, 1 serving thread)");
  }, 120_000);
});
