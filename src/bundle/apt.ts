// Debian side of the depot: resolve the dependency closure of the wanted packages, fetch the pinned
// .debs with apt-get, and write an apt flat repository (Packages, Packages.gz, Release) for them.
//
// Closure rule (bounded and reproducible): apt's own resolver against an EMPTY dpkg status, without
// Recommends — i.e. everything the wanted packages need on a bare system. That includes libraries every
// node already has (libc6, ...); apt on the node skips those at the same version, so the repo only
// costs a few MiB more than a closure against a guessed base.
//
// Refresh the pinned list in rpms/debian12.yaml after a Debian point release with:
//   bun src/bundle/apt.ts resolve haproxy keepalived ...   (prints the packages: YAML)
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import type { PackageEntry } from "../profiles/manifests.ts";
import { digestFile, mapLimit, sha256File, sha256Hex } from "../util/hash.ts";
import { run } from "./run.ts";

/** apt options that make apt-get resolve as if nothing were installed, touching no system state. */
function emptySystemOptions(scratch: string): string[] {
  mkdirSync(join(scratch, "archives/partial"), { recursive: true });
  writeFileSync(join(scratch, "status"), "");
  return [
    "-o", `Dir::State::status=${join(scratch, "status")}`,
    "-o", `Dir::Cache::archives=${join(scratch, "archives")}`,
    // Its binary caches too: built for the empty status, they must not replace the system's.
    "-o", `Dir::Cache::pkgcache=${join(scratch, "pkgcache.bin")}`,
    "-o", `Dir::Cache::srcpkgcache=${join(scratch, "srcpkgcache.bin")}`,
    "-o", "Debug::NoLocking=1",
    "-o", "APT::Install-Recommends=false",
    "-o", "APT::Install-Suggests=false",
  ];
}

/** One record of `apt-cache show`: field → value (continuation lines kept). */
export function parseControl(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  let last = "";
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (/^\s/.test(line) && last) fields[last] += `\n${line}`;
    else {
      const i = line.indexOf(":");
      if (i <= 0) continue;
      last = line.slice(0, i);
      fields[last] = line.slice(i + 1).trim();
    }
  }
  return fields;
}

/** The pinned closure of `wanted` as apt resolves it today, with pool file names, sizes and sums. */
export async function resolveDebClosure(wanted: string[], repoId = "bookworm"): Promise<PackageEntry[]> {
  const scratch = mkdtempSync(join(tmpdir(), "apt-resolve-"));
  try {
    const sim = await run(["apt-get", "-s", "-q", ...emptySystemOptions(scratch), "install", ...wanted]);
    const picks = [...sim.matchAll(/^Inst (\S+) \((\S+) [^[]*\[(\S+)\]\)/gm)].map((m) => ({ name: m[1]!, version: m[2]!, arch: m[3]! }));
    if (picks.length === 0) throw new Error(`apt-get resolved nothing for ${wanted.join(" ")}: run apt-get update`);
    // One apt-cache call for all of them: it loads its cache once (per-package calls take seconds each).
    const shown = await run(["apt-cache", "show", "--no-all-versions", ...picks.map((p) => `${p.name}:${p.arch}=${p.version}`)]);
    const records = new Map(
      shown.split(/\n\n+/).map(parseControl).filter((r) => r.Package).map((r) => [`${r.Package}=${r.Version}=${r.Architecture}`, r]),
    );
    const entries = picks.map((p): PackageEntry => {
      const rec = records.get(`${p.name}=${p.version}=${p.arch}`);
      if (!rec?.SHA256 || !rec.Filename) throw new Error(`apt-cache has no SHA256/Filename for ${p.name}=${p.version}`);
      return { name: p.name, version: p.version, arch: p.arch, file: basename(rec.Filename), size: Number(rec.Size), sha256: rec.SHA256, repo: repoId };
    });
    return entries.sort((a, b) => a.name.localeCompare(b.name));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Fetch exactly the pinned .debs into dir (named by their pool file name) and check size and sha256.
 * Fails, naming the package, when the mirror no longer has a pinned version.
 */
export async function downloadDebs(entries: PackageEntry[], dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const scratch = mkdtempSync(join(dir, ".download-"));
  try {
    const specs = entries.map((e) => `${e.name}:${e.arch}=${e.version}`);
    await run(["apt-get", "download", "-q", ...specs], { cwd: scratch }).catch((e: Error) => {
      throw new Error(
        `apt-get download failed (${e.message.split("\n").filter((l) => l.startsWith("E:")).join("; ") || e.message}); ` +
          "if Debian moved on to a newer point release, re-pin with: bun src/bundle/apt.ts resolve <wanted...>",
      );
    });
    // apt-get names files name_version_arch.deb with the epoch ':' escaped; match by control fields instead.
    const fetched = readdirSync(scratch).filter((f) => f.endsWith(".deb"));
    const byKey = new Map<string, string>();
    for (const f of fetched) {
      const c = parseControl(await run(["dpkg-deb", "-f", join(scratch, f), "Package", "Version", "Architecture"]));
      byKey.set(`${c.Package}=${c.Version}=${c.Architecture}`, f);
    }
    await mapLimit(entries, 4, async (e) => {
      const f = byKey.get(`${e.name}=${e.version}=${e.arch}`);
      if (!f) throw new Error(`apt-get download did not produce ${e.name}=${e.version} (${e.arch})`);
      const got = await sha256File(join(scratch, f));
      if (got.sha256 !== e.sha256 || (e.size !== undefined && got.size !== e.size)) {
        throw new Error(`${e.file}: sha256 ${got.sha256} (${got.size} bytes) does not match the manifest's ${e.sha256}`);
      }
      renameSync(join(scratch, f), join(dir, e.file));
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Control fields in the order apt's own Packages files use; anything else keeps its dpkg-deb order after these. */
const FIELD_ORDER = ["Package", "Source", "Version", "Installed-Size", "Maintainer", "Architecture"];

function formatStanza(fields: [string, string][]): string {
  return fields.map(([k, v]) => `${k}: ${v}`).join("\n");
}

/**
 * Write Packages, Packages.gz and Release for every .deb in dir — an apt "flat" repository
 * (`deb [trusted=yes] URL ./`). Control fields come from `dpkg-deb -f`; Filename is relative to dir.
 */
export async function writeFlatRepo(dir: string, opts: { label: string; date?: Date }): Promise<void> {
  const debs = readdirSync(dir).filter((f) => f.endsWith(".deb")).sort();
  if (debs.length === 0) throw new Error(`${dir}: no .deb files to index`);
  const stanzas = await mapLimit(debs, 4, async (f) => {
    const control = parseControl(await run(["dpkg-deb", "-f", join(dir, f)]));
    const { size, sha256, md5 } = await digestFile(join(dir, f), ["sha256", "md5"]);
    const ordered = [
      ...FIELD_ORDER.filter((k) => control[k] !== undefined).map((k): [string, string] => [k, control[k]!]),
      ...Object.entries(control).filter(([k]) => !FIELD_ORDER.includes(k) && k !== "Description"),
      ["Filename", `./${f}`] as [string, string],
      ["Size", String(size)] as [string, string],
      ["MD5sum", md5!] as [string, string],
      ["SHA256", sha256!] as [string, string],
      ...(control.Description !== undefined ? [["Description", control.Description] as [string, string]] : []),
    ];
    return formatStanza(ordered);
  });
  const packages = Buffer.from(`${stanzas.join("\n\n")}\n`);
  const packagesGz = gzipSync(packages, { level: 9 });
  writeFileSync(join(dir, "Packages"), packages);
  writeFileSync(join(dir, "Packages.gz"), packagesGz);
  const index = [
    ["Packages", packages],
    ["Packages.gz", packagesGz],
  ] as const;
  const md5 = (b: Uint8Array) => new Bun.CryptoHasher("md5").update(b).digest("hex");
  const release = [
    `Origin: k8s-ha-offline`,
    `Label: ${opts.label}`,
    `Architectures: amd64 all`,
    `Date: ${(opts.date ?? new Date()).toUTCString().replace("GMT", "UTC")}`,
    `MD5Sum:`,
    ...index.map(([n, b]) => ` ${md5(b)} ${b.length} ${n}`),
    `SHA256:`,
    ...index.map(([n, b]) => ` ${sha256Hex(b)} ${b.length} ${n}`),
  ].join("\n");
  writeFileSync(join(dir, "Release"), `${release}\n`);
}

if (import.meta.main) {
  const [cmd, ...wanted] = process.argv.slice(2);
  if (cmd !== "resolve" || wanted.length === 0) {
    console.error("usage: bun src/bundle/apt.ts resolve <package>...");
    process.exit(2);
  }
  const { stringify } = await import("yaml");
  process.stdout.write(stringify({ packages: await resolveDebClosure(wanted) }, { lineWidth: 0 }));
}
