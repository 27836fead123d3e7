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

test("init --runtime docker: the seed's runtime written for a 1.22 bundle that carries docker, refused otherwise", () => {
  const files = [{ path: "files/docker-20.10.24.tgz" }, { path: "files/containerd-1.6.20-linux-amd64.tar.gz" }];
  const text = renderInitConfig({ profile: "debian12", kubernetesVersion: "1.22.2", files }, { runtime: "docker" });
  expect(text).toMatch(/^ {2}runtime: docker {2,}# containerd \| docker/m);
  expect(text).toContain("profile: debian12");
  expect(renderInitConfig({ profile: "debian12", kubernetesVersion: "1.22.2", files })).toMatch(/^ {2}runtime: containerd /m);
  expect(() => renderInitConfig({ profile: "el9", kubernetesVersion: "1.28.4", files }, { runtime: "docker" })).toThrow("docker cannot run Kubernetes 1.28.4: dockershim was removed in 1.24");
  expect(() => renderInitConfig({ profile: "debian12", kubernetesVersion: "1.22.2", files: files.slice(1) }, { runtime: "docker" })).toThrow("the debian12 bundle carries no docker tarball");
  expect(() => renderInitConfig(null, { runtime: "podman" })).toThrow('unknown runtime "podman"');
});
