// A Debian profile's pins go stale whenever Debian publishes a point release or a security update: the
// mirror then serves only the newer version and `apt-get download name=old` fails. The build must work
// from an empty cache on any day, so before assembly the pins apt can no longer fetch are moved to what
// apt offers now — the closure re-resolved the way it was first pinned (src/bundle/apt.ts), the packed
// debs to their candidates — and the manifests are rewritten in place, loudly: the new pins are what the
// binary embeds, and `git diff rpms/` shows what to commit. The bytes stay authenticated: apt-get fetches
// them through Debian's signed indexes, and the lock is built from the files actually assembled.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument, type Document } from "yaml";
import { resolveDebClosure } from "./apt.ts";
import { run } from "./run.ts";

/** Every version of each name that apt's indexes offer now (`apt-cache madison`). */
export async function availableVersions(names: string[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>(names.map((n) => [n, new Set()]));
  if (!names.length) return out;
  const text = await run(["apt-cache", "madison", ...new Set(names)]).catch(() => "");
  for (const line of text.split("\n")) {
    const [name, version] = line.split("|").map((s) => s.trim());
    if (name && version && out.has(name)) out.get(name)!.add(version);
  }
  return out;
}

/** The version apt would install for each name (`apt-cache policy`'s Candidate). */
async function candidates(names: string[]): Promise<Map<string, string>> {
  const text = await run(["apt-cache", "policy", ...names]);
  const out = new Map<string, string>();
  let current = "";
  for (const line of text.split("\n")) {
    const pkg = /^(\S+):$/.exec(line);
    if (pkg) current = pkg[1]!;
    const c = /^\s+Candidate:\s+(\S+)/.exec(line);
    if (c && current && c[1] !== "(none)") out.set(current, c[1]!);
  }
  return out;
}

const splitSpec = (spec: string) => {
  const i = spec.indexOf("=");
  return { name: spec.slice(0, i), version: spec.slice(i + 1) };
};

function rewrite(path: string, edit: (doc: Document) => void): void {
  const doc = parseDocument(readFileSync(path, "utf8"));
  edit(doc);
  // Through a temporary name: the tests read the manifests while the bundles are built (test/run-tests.ts).
  writeFileSync(`${path}.tmp`, doc.toString({ lineWidth: 0, flowCollectionPadding: false }));
  renameSync(`${path}.tmp`, path);
}

/**
 * Re-pin what apt can no longer fetch in rpms/<profile>.yaml (the package closure) and rpms/<profile>.files.yaml
 * (the debs packed into tarballs). Returns one line per change; nothing is written when every pin is current.
 */
export async function repinStaleDebs(profile: string, root: string, log: (msg: string) => void): Promise<string[]> {
  const pkgPath = join(root, "rpms", `${profile}.yaml`);
  const filesPath = join(root, "rpms", `${profile}.files.yaml`);
  const pkgDoc = parseDocument(readFileSync(pkgPath, "utf8")).toJS() as {
    format: string;
    wanted: string[];
    packages: { name: string; version: string; repo?: string }[];
  };
  if (pkgDoc.format !== "deb") return [];
  const filesDoc = parseDocument(readFileSync(filesPath, "utf8")).toJS() as { files: { pack?: { debs: string[] } }[] };
  const packSpecs = filesDoc.files.flatMap((f) => f.pack?.debs ?? []).map(splitSpec);
  const have = await availableVersions([...pkgDoc.packages.map((p) => p.name), ...packSpecs.map((s) => s.name)]);
  if ([...have.values()].every((v) => v.size === 0)) throw new Error(`apt knows no version of the ${profile} profile's packages: run apt-get update`);
  const fetchable = (name: string, version: string) => have.get(name)?.has(version) ?? false;
  const changes: string[] = [];

  const stale = pkgDoc.packages.filter((p) => !fetchable(p.name, p.version));
  if (stale.length) {
    const resolved = await resolveDebClosure(pkgDoc.wanted, pkgDoc.packages[0]?.repo);
    const was = new Map(pkgDoc.packages.map((p) => [p.name, p.version]));
    for (const p of resolved) if (was.get(p.name) !== p.version) changes.push(`${p.name} ${was.get(p.name) ?? "(new)"} → ${p.version}`);
    for (const name of was.keys()) if (!resolved.some((p) => p.name === name)) changes.push(`${name} ${was.get(name)} → (no longer needed)`);
    rewrite(pkgPath, (doc) => doc.set("packages", doc.createNode(resolved)));
  }

  const stalePacks = packSpecs.filter((s) => !fetchable(s.name, s.version));
  if (stalePacks.length) {
    const now = await candidates([...new Set(stalePacks.map((s) => s.name))]);
    const missing = stalePacks.filter((s) => !now.has(s.name));
    if (missing.length) throw new Error(`apt offers no version of ${missing.map((s) => s.name).join(", ")} (rpms/${profile}.files.yaml): run apt-get update`);
    const replace = (spec: string) => {
      const s = splitSpec(spec);
      return fetchable(s.name, s.version) ? spec : `${s.name}=${now.get(s.name)}`;
    };
    for (const s of new Map(stalePacks.map((s) => [s.name, s])).values()) changes.push(`${s.name} ${s.version} → ${now.get(s.name)} (packed)`);
    rewrite(filesPath, (doc) => {
      const files = doc.get("files") as any;
      for (const item of files.items) {
        const debs = item.getIn(["pack", "debs"]);
        if (debs) item.setIn(["pack", "debs"], doc.createNode(debs.toJSON().map(replace), { flow: true }));
      }
    });
  }
  if (changes.length)
    log(
      `warning: Debian no longer serves some pinned versions of the ${profile} profile (${stale.length + new Set(stalePacks.map((s) => s.name)).size} packages); ` +
        `re-pinned to what apt offers now (commit rpms/${profile}*.yaml to keep them):\n  ${changes.join("\n  ")}`,
    );
  return changes;
}
