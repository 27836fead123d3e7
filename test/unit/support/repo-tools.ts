// Tools for package-repository tests: tiny real packages (a .deb made with dpkg-deb, a noarch .rpm made
// with rpmbuild, each installing /usr/share/<name>/hello holding "<name> <version>"), and apt-get options
// that keep it away from the system's sources, lists, cache and dpkg status.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Run a tool in the C locale; stdout+stderr and the exit code, never throws. */
export async function runTool(cmd: string[], cwd?: string): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" } });
  const [o, e, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: o + e };
}

async function mustRun(cmd: string[]): Promise<void> {
  const r = await runTool(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} exited ${r.code}: ${r.out}`);
}

/** Build <outDir>/<name>_<version>_all.deb (scratch files under work); returns its path. */
export async function tinyDeb(work: string, outDir: string, name: string, version: string): Promise<string> {
  const root = join(work, `deb-src-${name}`);
  mkdirSync(join(root, "DEBIAN"), { recursive: true });
  mkdirSync(join(root, "usr/share", name), { recursive: true });
  writeFileSync(join(root, "usr/share", name, "hello"), `${name} ${version}\n`);
  const control = [`Package: ${name}`, `Version: ${version}`, "Architecture: all", "Maintainer: test <test@example.invalid>", "Description: test package", ""];
  writeFileSync(join(root, "DEBIAN/control"), control.join("\n"));
  const deb = join(outDir, `${name}_${version}_all.deb`);
  await mustRun(["dpkg-deb", "--root-owner-group", "--build", root, deb]);
  return deb;
}

/** Build a noarch <name>-<version>-<release>.noarch.rpm (rpmbuild tree under work); returns its path. */
export async function tinyRpm(work: string, name: string, version: string, release: string): Promise<string> {
  const top = join(work, "rpmbuild");
  const spec = join(work, `${name}.spec`);
  const lines = [
    `Name: ${name}`, `Version: ${version}`, `Release: ${release}`, "Summary: test package", "License: MIT", "BuildArch: noarch",
    "%description", "test package",
    "%install", `mkdir -p %{buildroot}/usr/share/${name}`, `echo '${name} ${version}' > %{buildroot}/usr/share/${name}/hello`,
    "%files", `/usr/share/${name}/hello`, "",
  ];
  writeFileSync(spec, lines.join("\n"));
  await mustRun(["rpmbuild", "--quiet", "--define", `_topdir ${top}`, "-bb", spec]);
  return join(top, "RPMS/noarch", `${name}-${version}-${release}.noarch.rpm`);
}

/**
 * apt-get options reading only <state>/sources.list (written by the caller), with lists, cache and an
 * empty dpkg status under state.
 */
export function isolatedAptOptions(state: string): string[] {
  for (const d of ["lists/partial", "archives/partial", "cache"]) mkdirSync(join(state, d), { recursive: true });
  writeFileSync(join(state, "status"), "");
  return [
    "-o", `Dir::Etc::sourcelist=${join(state, "sources.list")}`,
    "-o", "Dir::Etc::sourceparts=-",
    "-o", `Dir::State::Lists=${join(state, "lists")}`,
    "-o", `Dir::State::status=${join(state, "status")}`,
    "-o", `Dir::Cache=${join(state, "cache")}`,
    "-o", `Dir::Cache::archives=${join(state, "archives")}`,
    "-o", "Debug::NoLocking=1",
    "-o", "APT::Architecture=amd64",
    "-o", "Acquire::Languages=none",
    // The test's temp dirs are not readable by apt's _apt sandbox user.
    "-o", "APT::Sandbox::User=root",
  ];
}
