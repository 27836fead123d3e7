// Fills in the schema's defaults for keys that are absent (never for keys that were present but wrong),
// then the defaults that depend on other keys.
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { childrenOf, type Field } from "./schema.ts";
import type { PlainMap } from "./walk.ts";
import type { Findings, YamlPath } from "./yaml-source.ts";

const keyName = (f: Field) => f.path.slice(f.path.lastIndexOf(".") + 1);
const copy = <T>(v: T): T => (Array.isArray(v) ? ([...v] as T) : v);

export function applySchemaDefaults(value: PlainMap, sectionPath: string, path: YamlPath, findings: Findings): void {
  for (const f of childrenOf(sectionPath)) {
    const key = keyName(f);
    const childPath = [...path, key];
    if (findings.isInvalid(childPath)) continue;
    const v = value[key];
    if (f.type === "section" && !f.overrides) {
      if (v === undefined && f.required) continue;
      const section = (v ?? {}) as PlainMap;
      value[key] = section;
      applySchemaDefaults(section, f.path, childPath, findings);
    } else if (f.type === "sectionList" && Array.isArray(v)) {
      v.forEach((item, i) => {
        if (item && typeof item === "object" && !Array.isArray(item)) applySchemaDefaults(item, f.path, [...childPath, i], findings);
      });
    } else if (v === undefined && f.default !== undefined) {
      value[key] = copy(f.default) as PlainMap[string];
    }
  }
}

/** Paths in the file are relative to the file; `~/` is the invoking user's home. */
export function resolveUserPath(p: string, baseDir: string): string {
  if (p === "~" || p.startsWith("~/")) return resolve(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

type Section = PlainMap | undefined;
const sectionOf = (v: unknown): Section => (v && typeof v === "object" && !Array.isArray(v) ? (v as PlainMap) : undefined);

/**
 * Defaults that depend on other keys: bundle.dir from the profile, knownHostsFile in stateDir,
 * per-host SSH settings merged over the defaults, etcd on the control-plane nodes when no host names etcd,
 * depot on master1. Paths resolved against the config file's directory.
 */
export function applyDerivedDefaults(doc: PlainMap, baseDir: string, findings: Findings): void {
  const bundle = sectionOf(doc.bundle);
  if (bundle && bundle.dir === undefined && typeof bundle.profile === "string" && !findings.isInvalid(["bundle", "dir"])) bundle.dir = `./bundle-${bundle.profile}`;
  if (bundle && typeof bundle.dir === "string") bundle.dir = resolveUserPath(bundle.dir, baseDir);

  const ssh = sectionOf(doc.ssh);
  if (ssh && ssh.knownHostsFile === undefined && typeof doc.stateDir === "string" && !findings.isInvalid(["ssh", "knownHostsFile"]))
    ssh.knownHostsFile = `${doc.stateDir.replace(/\/+$/, "")}/known_hosts`;

  const hosts = Array.isArray(doc.hosts) ? doc.hosts.map(sectionOf) : [];
  for (const h of hosts) {
    if (!h) continue;
    const merged = { ...ssh, ...sectionOf(h.ssh) };
    if (typeof merged.keyFile === "string") merged.keyFile = resolveUserPath(merged.keyFile, baseDir);
    h.ssh = merged;
  }
  if (ssh && typeof ssh.keyFile === "string") ssh.keyFile = resolveUserPath(ssh.keyFile, baseDir);

  const roles = (h: Section) => (Array.isArray(h?.roles) ? (h.roles as string[]) : []);
  if (!hosts.some((h) => roles(h).includes("etcd")))
    for (const h of hosts) if (roles(h).includes("control-plane")) roles(h).push("etcd");

  const depot = sectionOf(doc.depot);
  const master1 = hosts.find((h) => roles(h).includes("control-plane"));
  if (depot && depot.address === undefined && typeof master1?.address === "string") depot.address = master1.address;
}
