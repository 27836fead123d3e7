// Loading image archives: the tar header walk against archives written by GNU tar in its
// different formats, and the refusals a corrupt or inconsistent bundle must get at start.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadImageStore } from "../../src/depot/registry/store.ts";
import { indexTar } from "../../src/depot/registry/tar-index.ts";
import { collectingLogger, tarBytes, writeOciArchive } from "./support/oci-fixture.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "registry-store-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("tar index", () => {
  // GNU tar (Debian's tar, always present) writes long names as 'L' records, pax as 'x' records, ustar with a prefix.
  for (const format of ["gnu", "pax", "ustar", "v7"]) {
    test(`finds every member of a ${format} archive at the right offset`, () => {
      const src = join(dir, `src-${format}`);
      const longDir = format === "v7" ? "d" : `${"deep/".repeat(25)}x`; // > 100 chars (needs a long-name record or ustar prefix) except for v7
      mkdirSync(join(src, longDir), { recursive: true });
      const files: Record<string, Buffer> = {
        "empty": Buffer.alloc(0),
        "exact512": Buffer.alloc(512, 7),
        [`${longDir}/blob`]: Buffer.from("x".repeat(1000) + "end"),
      };
      for (const [name, data] of Object.entries(files)) writeFileSync(join(src, name), data);
      const tarFile = join(dir, `t-${format}.tar`);
      const r = Bun.spawnSync(["tar", `--format=${format}`, "-C", src, "-cf", tarFile, "."]);
      expect(r.exitCode).toBe(0);
      const members = indexTar(tarFile);
      const whole = readFileSync(tarFile);
      for (const [name, data] of Object.entries(files)) {
        const m = members.get(name);
        expect({ name, found: !!m }).toEqual({ name, found: true });
        expect(whole.subarray(m!.offset, m!.offset + m!.size).equals(data)).toBe(true);
      }
    });
  }

  test("a truncated archive is refused with the file named", async () => {
    const file = join(dir, "trunc.tar");
    writeFileSync(file, await tarBytes([{ name: "a", data: "y".repeat(5000) }]));
    truncateSync(file, 2048);
    expect(() => indexTar(file)).toThrow(/trunc\.tar: .*(truncated|past the end)/);
  });

  test("garbage is refused, not indexed", () => {
    const file = join(dir, "garbage.tar");
    writeFileSync(file, Buffer.alloc(4096, 0x41));
    expect(() => indexTar(file)).toThrow(/garbage\.tar: bad header checksum/);
  });
});

describe("image store", () => {
  async function bundleWith(name: string, mutate?: (tar: Buffer) => void): Promise<string> {
    const images = join(dir, name, "images");
    mkdirSync(images, { recursive: true });
    const file = join(images, "pause.tar");
    await writeOciArchive(file, [{ ref: "registry.k8s.io/pause:3.5", platforms: ["linux/amd64"] }]);
    if (mutate) {
      const tar = readFileSync(file);
      mutate(tar);
      writeFileSync(file, tar);
    }
    return images;
  }

  test("a good archive yields both served names with the tag", async () => {
    const store = await loadImageStore(await bundleWith("good"), collectingLogger());
    expect([...store.repositories.keys()].sort()).toEqual(["google_containers/pause", "pause"]);
    expect([...store.repositories.get("pause")!.tags.keys()]).toEqual(["3.5"]);
  });

  test("a flipped byte in a blob is refused at start, naming archive and blob", async () => {
    const images = await bundleWith("flipped", (tar) => {
      // The hello layer: flip a byte inside the first blob member's data.
      const members = [...indexTar(join(dir, "flipped", "images", "pause.tar")).values()].filter((m) => m.name.startsWith("blobs/"));
      const m = members[0]!;
      tar[m.offset + Math.floor(m.size / 2)] ^= 0xff;
    });
    const err = await loadImageStore(images, collectingLogger()).catch((e) => e);
    expect(err.name).toBe("ImageArchiveError");
    expect(err.message).toMatch(/pause\.tar: blob blobs\/sha256\/[a-f0-9]{64} is corrupt/);
  });

  test("an archive without index.json, or with a short reference, is refused with what to do", async () => {
    const noIndex = join(dir, "noindex", "images");
    mkdirSync(noIndex, { recursive: true });
    writeFileSync(join(noIndex, "x.tar"), await tarBytes([{ name: "oci-layout", data: "{}" }]));
    const e1 = await loadImageStore(noIndex, collectingLogger()).catch((e) => e);
    expect(e1.message).toMatch(/x\.tar: no index\.json inside/);

    const shortRef = join(dir, "shortref", "images");
    mkdirSync(shortRef, { recursive: true });
    await writeOciArchive(join(shortRef, "y.tar"), [{ ref: "latest", platforms: ["linux/amd64"] }]);
    const e2 = await loadImageStore(shortRef, collectingLogger()).catch((e) => e);
    expect(e2.message).toMatch(/y\.tar: index\.json names "latest", which is not a full tagged image reference/);
  });

  test("a manifest whose layer is missing from the archive is refused", async () => {
    const images = join(dir, "missing", "images");
    mkdirSync(images, { recursive: true });
    const file = join(images, "m.tar");
    const [built] = await writeOciArchive(file, [{ ref: "registry.k8s.io/pause:3.5", platforms: ["linux/amd64"] }]);
    // Re-pack without the layer blob.
    const layer = built!.blobs[1]!.digest.slice(7);
    const src = join(dir, "missing", "src");
    mkdirSync(src, { recursive: true });
    expect(Bun.spawnSync(["tar", "-C", src, "-xf", file]).exitCode).toBe(0);
    rmSync(join(src, "blobs", "sha256", layer));
    expect(Bun.spawnSync(["tar", "-C", src, "-cf", file, "."]).exitCode).toBe(0);
    const err = await loadImageStore(images, collectingLogger()).catch((e) => e);
    expect(err.message).toContain(`references blob sha256:${layer} which is not in the archive`);
  });

  test("docker save 25+ style: full name in io.containerd.image.name, only the tag in ref.name", async () => {
    const images = join(dir, "containerd-name", "images");
    const src = join(dir, "containerd-name", "src");
    mkdirSync(images, { recursive: true });
    mkdirSync(src, { recursive: true });
    const file = join(images, "saved.tar");
    await writeOciArchive(file, [{ ref: "docker.io/library/busybox:1.36", platforms: ["linux/amd64"] }]);
    expect(Bun.spawnSync(["tar", "-C", src, "-xf", file]).exitCode).toBe(0);
    const index = JSON.parse(readFileSync(join(src, "index.json"), "utf8"));
    index.manifests[0].annotations = { "io.containerd.image.name": "docker.io/library/busybox:1.36", "org.opencontainers.image.ref.name": "1.36" };
    writeFileSync(join(src, "index.json"), JSON.stringify(index));
    expect(Bun.spawnSync(["tar", "-C", src, "-cf", file, "."]).exitCode).toBe(0);
    const store = await loadImageStore(images, collectingLogger());
    expect([...store.repositories.keys()].sort()).toEqual(["google_containers/busybox", "library/busybox"]);
    expect([...store.repositories.get("library/busybox")!.tags.keys()]).toEqual(["1.36"]);
  });

  test("no images directory serves an empty registry with a warning", async () => {
    const log = collectingLogger();
    const store = await loadImageStore(join(dir, "none"), log);
    expect(store.repositories.size).toBe(0);
    expect(log.lines.join("\n")).toContain("no image directory");
  });
});
