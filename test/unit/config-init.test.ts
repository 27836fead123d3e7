// `init` writes assets/cluster.yaml, which must be embedded in the compiled binary: compile a tiny entry
// that prints it, run it from an empty directory, and compare with the file in the tree.
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderInitConfig } from "../../src/config/init.ts";

const root = join(import.meta.dir, "..", "..");
const templateFile = join(root, "assets", "cluster.yaml");

test("renderInitConfig returns assets/cluster.yaml byte for byte", () => {
  expect(renderInitConfig()).toBe(readFileSync(templateFile, "utf8"));
});

test(
  "the template is embedded by bun build --compile and printed from an empty directory",
  async () => {
    const out = mkdtempSync(join(tmpdir(), "k8s-ha-init-bin-"));
    const empty = mkdtempSync(join(tmpdir(), "k8s-ha-init-cwd-"));
    try {
      const exe = join(out, "print-init");
      const build = Bun.spawnSync([process.execPath, "build", "--compile", join(import.meta.dir, "fixtures/config/print-init.ts"), "--outfile", exe], { cwd: root, stderr: "pipe", stdout: "pipe" });
      if (build.exitCode !== 0) throw new Error(`bun build --compile failed: ${build.stderr.toString()}`);
      const run = Bun.spawnSync([exe], { cwd: empty, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
      expect(run.stderr.toString()).toBe("");
      expect(run.exitCode).toBe(0);
      expect(run.stdout.toString()).toBe(readFileSync(templateFile, "utf8"));
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(empty, { recursive: true, force: true });
    }
  },
  180_000,
);
