import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256File, sha256Hex } from "../../src/util/hash.ts";
import { buildLabImage } from "../../src/bundle/oci-build.ts";

const dir = mkdtempSync(join(tmpdir(), "bundle-oci-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function sh(cmd: string[]): Promise<string> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${cmd.join(" ")}: ${err}`);
  return out;
}

describe("lab OCI images", () => {
  const ref = "registry.k8s.io/kube-apiserver:v1.22.2";

  test("skopeo reads the archive by its full reference, and the manifest digest is what the builder reports", async () => {
    const tar = join(dir, "kube-apiserver-v1.22.2.tar");
    const built = await buildLabImage(tar, ref);
    const raw = await sh(["skopeo", "inspect", "--raw", `oci-archive:${tar}:${ref}`]);
    expect(`sha256:${sha256Hex(raw)}`).toBe(built.digest);
    const info = JSON.parse(await sh(["skopeo", "inspect", `oci-archive:${tar}:${ref}`]));
    expect(info.Architecture).toBe("amd64");
    expect(info.Os).toBe("linux");
    expect(info.Layers).toHaveLength(1);
    expect(info.Labels["io.k8s-ha-offline.lab-image"]).toBe(ref);
  });

  test("skopeo copies it out, checking every blob digest, and the layer holds the marker file", async () => {
    const tar = join(dir, "pause-3.5.tar");
    await buildLabImage(tar, "registry.k8s.io/pause:3.5");
    const out = join(dir, "copied");
    await sh(["skopeo", "copy", "--quiet", `oci-archive:${tar}:registry.k8s.io/pause:3.5`, `dir:${out}`]);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    const layer = join(out, manifest.layers[0].digest.replace("sha256:", ""));
    const listing = await sh(["tar", "-tzvf", layer]);
    expect(listing).toContain("etc/k8s-ha-offline-image");
    expect(await sh(["tar", "-xzOf", layer, "etc/k8s-ha-offline-image"])).toStartWith("registry.k8s.io/pause:3.5\n");
  });

  test("building the same reference twice gives byte-identical archives; another reference differs", async () => {
    const a = await buildLabImage(join(dir, "a.tar"), "registry.k8s.io/coredns/coredns:v1.8.4");
    const b = await buildLabImage(join(dir, "b.tar"), "registry.k8s.io/coredns/coredns:v1.8.4");
    const c = await buildLabImage(join(dir, "c.tar"), "registry.k8s.io/kube-proxy:v1.22.2");
    expect(a.digest).toBe(b.digest);
    expect((await sha256File(join(dir, "a.tar"))).sha256).toBe((await sha256File(join(dir, "b.tar"))).sha256);
    expect(c.digest).not.toBe(a.digest);
  });
});
