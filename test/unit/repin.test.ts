// Stale pins against Debian's real indexes: a copy of the debian12 manifests with one package pin and one
// packed deb set to versions Debian never served is re-pinned to what apt offers now; current pins are
// kept, the comments survive, and a second pass finds nothing to do.
import { afterAll, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { availableVersions, repinStaleDebs } from "../../src/bundle/repin.ts";
import { REPO_ROOT } from "../../src/profiles/manifests.ts";

const root = mkdtempSync(join(tmpdir(), "repin-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test("pins Debian no longer serves are moved to what apt offers; the rest and the comments stay", async () => {
  mkdirSync(join(root, "rpms"));
  for (const f of ["debian12.yaml", "debian12.files.yaml"]) cpSync(join(REPO_ROOT, "rpms", f), join(root, "rpms", f));
  const pkgPath = join(root, "rpms/debian12.yaml");
  const filesPath = join(root, "rpms/debian12.files.yaml");
  // First bring the copy up to date (the committed pins may themselves be stale on the day this runs).
  await repinStaleDebs("debian12", root, () => {});
  const current = parse(readFileSync(pkgPath, "utf8"));
  const socat = current.packages.find((p: any) => p.name === "socat");
  writeFileSync(pkgPath, readFileSync(pkgPath, "utf8").replace(`version: ${socat.version}`, "version: 0.0-never-served"));
  writeFileSync(filesPath, readFileSync(filesPath, "utf8").replace(/runc=[^\],\s]+/g, "runc=0.0-never-served"));

  const logged: string[] = [];
  const changes = await repinStaleDebs("debian12", root, (m) => logged.push(m));
  // The closure is re-resolved as a whole (a consistent set), so other packages may move on with it.
  expect(changes).toContain(`socat 0.0-never-served → ${socat.version}`);
  const runc = changes.map((c) => /^runc 0\.0-never-served → (\S+) \(packed\)$/.exec(c)?.[1]).find(Boolean);
  expect((await availableVersions(["runc"])).get("runc")!.has(runc!)).toBe(true);
  expect(logged.join("\n")).toContain("re-pinned to what apt offers now");

  const after = parse(readFileSync(pkgPath, "utf8"));
  const served = await availableVersions(after.packages.map((p: any) => p.name));
  expect(after.packages.filter((p: any) => !served.get(p.name)!.has(p.version))).toEqual([]);
  expect(after.packages.find((p: any) => p.name === "socat")).toEqual(socat);
  expect(readFileSync(pkgPath, "utf8")).toContain("# Re-pin after a Debian point release:");
  const files = parse(readFileSync(filesPath, "utf8"));
  const debs: string[] = files.files.flatMap((f: any) => f.pack?.debs ?? []);
  expect(debs.filter((d) => d.startsWith("runc="))).toEqual([`runc=${runc}`, `runc=${runc}`]);
  expect(readFileSync(filesPath, "utf8")).toContain("# The seed's runtime:");

  expect(await repinStaleDebs("debian12", root, () => {})).toEqual([]);
}, 120_000);
