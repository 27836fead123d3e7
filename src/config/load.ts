// Reads cluster.yaml: YAML with positions -> schema checks -> defaults -> cross-key rules -> ClusterConfig.
// Every problem is collected first and thrown together as one ConfigError.
import { readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { type Document, LineCounter, parseDocument } from "yaml";
import { applyDerivedDefaults, applySchemaDefaults } from "./defaults.ts";
import { ConfigError } from "./errors.ts";
import { type Draft, RULES } from "./rules.ts";
import type { ClusterConfig } from "./types.ts";
import { type PlainMap, SchemaWalker } from "./walk.ts";
import { Findings, YamlSource } from "./yaml-source.ts";

/** A cluster description is a few kilobytes; anything past this is the wrong file or an attack. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface LoadOptions {
  /** Name used in messages; default: the path, relative to the working directory when inside it. */
  sourceName?: string;
}

/** YAML error codes, reworded for an operator; the rest get a generic hint. */
const SYNTAX_HINTS: Record<string, { message?: string; hint: string }> = {
  DUPLICATE_KEY: { message: "this key appears twice in the same mapping", hint: "keep only one of them" },
  TAB_AS_INDENT: { hint: "indent with spaces, not tabs" },
  BAD_INDENT: { hint: "check the indentation: keys of one mapping line up, list items start with - in the same column" },
  MULTIPLE_DOCS: { message: "the file holds more than one YAML document", hint: "a cluster.yaml is one document: remove the second --- and what follows" },
  BAD_ALIAS: { hint: "an alias (*name) must refer to an anchor (&name) defined earlier in the file" },
  TAG_RESOLVE_FAILED: { hint: "remove the !tag; values are plain text, numbers and true/false" },
  KEY_OVER_1024_CHARS: { hint: "keys are short names; a very long key usually means a missing newline or colon" },
};
const GENERIC_SYNTAX_HINT = "fix the YAML syntax here (a missing quote, colon, bracket or wrong indentation is the usual cause)";
/** Errors after which the tree is still what the author meant, so the schema checks can run too. */
const WALKABLE = new Set(["DUPLICATE_KEY", "MULTIPLE_DOCS", "TAG_RESOLVE_FAILED"]);

function reportSyntax(doc: Document.Parsed, source: YamlSource, findings: Findings): boolean {
  let walkable = true;
  for (const e of [...doc.errors, ...doc.warnings]) {
    const known = SYNTAX_HINTS[e.code];
    const message = known?.message ?? `YAML: ${e.message.split("\n")[0]!.replace(/\.$/, "")}`;
    findings.addAt(source.pathAt(e.pos[0]), e.pos[0], message, known?.hint ?? GENERIC_SYNTAX_HINT);
    if (!WALKABLE.has(e.code)) walkable = false;
  }
  return walkable;
}

/** Check `text` (the content of `sourceName`); relative paths in it are taken from `baseDir`. Throws ConfigError. */
export function parseConfig(text: string, sourceName = "cluster.yaml", baseDir = process.cwd()): ClusterConfig {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_CONFIG_BYTES)
    throw new ConfigError(sourceName, [{ path: "(document)", line: 1, col: 1, message: `the file is ${bytes} bytes, more than the ${MAX_CONFIG_BYTES} a cluster configuration can need`, hint: "check that -c points at your cluster.yaml" }]);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, version: "1.2" });
  const source = new YamlSource(doc, lines);
  const findings = new Findings(source);
  const root = reportSyntax(doc, source, findings) ? new SchemaWalker(source, findings).walkDocument() : undefined;
  if (root) {
    applySchemaDefaults(root, "", [], findings);
    applyDerivedDefaults(root, baseDir, findings);
    for (const rule of RULES) rule(root as Draft, (path, message, hint) => findings.add(path, message, hint));
  }
  if (findings.issues.length > 0 || !root) throw new ConfigError(sourceName, findings.sorted());
  return toClusterConfig(root, sourceName);
}

/** The checked tree has exactly the schema's keys; only the shared ssh block and the VIP's prefix need reshaping. */
function toClusterConfig(root: PlainMap, source: string): ClusterConfig {
  const { ssh: _perHostNow, ...rest } = root;
  const config = { ...rest, source } as unknown as ClusterConfig;
  const [vip, prefix] = config.loadBalancer.vip.split("/");
  config.loadBalancer.vip = vip!;
  if (prefix !== undefined) config.loadBalancer.vipPrefix = Number(prefix);
  return config;
}

function displayName(path: string): string {
  const rel = relative(process.cwd(), resolve(path));
  return isAbsolute(path) && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

function unreadable(sourceName: string, message: string, hint: string): ConfigError {
  return new ConfigError(sourceName, [{ path: "(file)", line: 0, col: 0, message, hint }]);
}

/** Read and check a cluster.yaml. Throws ConfigError (never anything else) for a missing, unreadable or invalid file. */
export function loadConfig(path: string, opts: LoadOptions = {}): ClusterConfig {
  const sourceName = opts.sourceName ?? displayName(path);
  let data: Buffer;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw unreadable(sourceName, "is a directory", "point -c at the cluster.yaml file inside it");
    if (!st.isFile()) throw unreadable(sourceName, "is not a regular file", "point -c at a cluster.yaml file");
    if (st.size > MAX_CONFIG_BYTES) throw unreadable(sourceName, `the file is ${st.size} bytes, more than the ${MAX_CONFIG_BYTES} a cluster configuration can need`, "check that -c points at your cluster.yaml");
    data = readFileSync(path);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw unreadable(sourceName, "no such file", "run `k8s-ha-offline init` to write a commented one, or point -c at your cluster.yaml");
    if (code === "EACCES" || code === "EPERM") throw unreadable(sourceName, "permission denied", "run as root or make the file readable");
    throw unreadable(sourceName, `cannot read the file (${code ?? String(e)})`, "check the path given with -c");
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    throw unreadable(sourceName, "is not UTF-8 text", "save the file as UTF-8 (plain text)");
  }
  return parseConfig(text, sourceName, dirname(resolve(path)));
}
