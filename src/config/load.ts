// Reads cluster.yaml: YAML with positions -> schema checks -> defaults -> cross-key rules -> ClusterConfig.
// Every problem is collected first and thrown together as one ConfigError.
import { readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { type Document, LineCounter, parseDocument } from "yaml";
import { applyDerivedDefaults, applySchemaDefaults } from "./defaults.ts";
import { ConfigError } from "./errors.ts";
import { type Draft, RULES, hostKeyCheckedWithPassword } from "./rules.ts";
import type { ClusterConfig } from "./types.ts";
import { type PlainMap, SchemaWalker } from "./walk.ts";
import { Findings, YamlSource } from "./yaml-source.ts";

/** A cluster description is a few kilobytes; anything past this is the wrong file or an attack. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface ParseOptions {
  /** --insecure-skip-host-key-check: accept hostKeyPolicy off together with a password. */
  insecureSkipHostKeyCheck?: boolean;
}

export interface LoadOptions extends ParseOptions {
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
  MULTILINE_IMPLICIT_KEY: { hint: "a key is missing its colon (write key: value), so YAML ran it into the next line" },
  MISSING_CHAR: { hint: "a quote or bracket opened here is never closed" },
  KEY_OVER_1024_CHARS: { hint: "keys are short names; a very long key usually means a missing newline or colon" },
};
const GENERIC_SYNTAX_HINT = "fix the YAML syntax here (a missing quote, colon, bracket or wrong indentation is the usual cause)";
/** Errors after which the tree is still what the author meant, so the schema checks can run too. */
const WALKABLE = new Set(["DUPLICATE_KEY", "MULTIPLE_DOCS", "TAG_RESOLVE_FAILED"]);

/**
 * Where an unterminated quoted string starts: YAML notices only at the end of the file, but the
 * operator needs the line where the quote was opened. Comments are skipped; '' and \" are escapes.
 */
export function openQuoteOffset(text: string): number | undefined {
  let open: { ch: string; at: number } | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (open) {
      if (open.ch === '"' && ch === "\\") i++;
      else if (ch === open.ch && open.ch === "'" && text[i + 1] === "'") i++;
      else if (ch === open.ch) open = undefined;
    } else if (ch === '"' || ch === "'") {
      const before = text[i - 1];
      if (before === undefined || /[\s:\[{,-]/.test(before)) open = { ch, at: i };
    } else if (ch === "#" && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i < text.length && text[i] !== "\n") i++;
    }
  }
  return open?.at;
}

/**
 * YAML syntax errors. After the first one that breaks the tree, the parser's later complaints are
 * mostly echoes of it, so only that one is shown (with a count of the rest).
 */
function reportSyntax(text: string, doc: Document.Parsed, source: YamlSource, findings: Findings): boolean {
  const all = [...doc.errors, ...doc.warnings].sort((a, b) => a.pos[0] - b.pos[0]);
  const firstBreaking = all.findIndex((e) => !WALKABLE.has(e.code));
  const shown = firstBreaking < 0 ? all : all.slice(0, firstBreaking + 1);
  const echoes = all.length - shown.length;
  for (const e of shown) {
    const known = SYNTAX_HINTS[e.code];
    const message = known?.message ?? `YAML: ${e.message.split("\n")[0]!.replace(/\.$/, "")}`;
    const offset = (e.code === "MISSING_CHAR" && /quote/.test(e.message) ? openQuoteOffset(text) : undefined) ?? e.pos[0];
    const more = e === shown[firstBreaking] && echoes > 0 ? ` (${echoes} more YAML error${echoes === 1 ? "" : "s"} after this one, likely caused by it)` : "";
    const firstNonBlank = offset + (/^[ \t]*/.exec(text.slice(offset))?.[0].length ?? 0);
    findings.addAt(source.pathAt(firstNonBlank), offset, message, (known?.hint ?? GENERIC_SYNTAX_HINT) + more);
  }
  return firstBreaking < 0;
}

/** Check `text` (the content of `sourceName`); relative paths in it are taken from `baseDir`. Throws ConfigError. */
export function parseConfig(text: string, sourceName = "cluster.yaml", baseDir = process.cwd(), opts: ParseOptions = {}): ClusterConfig {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_CONFIG_BYTES)
    throw new ConfigError(sourceName, [{ path: "(document)", line: 1, col: 1, message: `the file is ${bytes} bytes, more than the ${MAX_CONFIG_BYTES} a cluster configuration can need`, hint: "check that -c points at your cluster.yaml" }]);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, version: "1.2" });
  const source = new YamlSource(doc, lines);
  const findings = new Findings(source);
  const root = reportSyntax(text, doc, source, findings) ? new SchemaWalker(source, findings).walkDocument() : undefined;
  if (root) {
    applySchemaDefaults(root, "", [], findings);
    // Before the per-host SSH settings are merged: the issue must name the line that says off.
    if (!opts.insecureSkipHostKeyCheck) hostKeyCheckedWithPassword(root as Draft, (path, message, hint) => findings.add(path, message, hint));
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
  return parseConfig(text, sourceName, dirname(resolve(path)), opts);
}
