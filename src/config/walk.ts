// Checks the YAML tree against the schema, key by key, and returns the plain values that passed.
// A value that fails is left out (and its path marked invalid) so later checks do not trip over it.
import { isAlias, isMap, isScalar, isSeq, type Node } from "yaml";
import { FORMATS } from "./formats.ts";
import { childrenOf, type Field } from "./schema.ts";
import { closest } from "./suggest.ts";
import { type Findings, renderPath, type YamlPath, type YamlSource } from "./yaml-source.ts";

/** Alias uses allowed in one file: plenty for sharing a block, far too few for an expansion bomb. */
export const MAX_ALIASES = 100;
const DEFAULT_MAX_LENGTH = 253;

export type Plain = string | number | boolean | Plain[] | { [key: string]: Plain | undefined };
export type PlainMap = { [key: string]: Plain | undefined };

const keyName = (f: Field) => f.path.slice(f.path.lastIndexOf(".") + 1);

/** What a node is, for "expected X, got Y" messages. */
function describe(n: unknown): string {
  if (isMap(n)) return "a mapping";
  if (isSeq(n)) return "a list";
  if (!isScalar(n)) return "something else";
  const v = n.value;
  if (typeof v === "string") return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "boolean") return `${v}`;
  if (v === null || v === undefined) return "nothing";
  return n.tag ? `a ${n.tag.replace("tag:yaml.org,2002:", "!!")} value` : "a value of another kind";
}

const PASSWORD_KEY = /pass(word|wd)?$|secret/i;

export class SchemaWalker {
  private aliasUses = 0;

  constructor(
    private readonly source: YamlSource,
    private readonly findings: Findings,
  ) {}

  /** The whole document as the top-level section. */
  walkDocument(): PlainMap | undefined {
    const root = this.source.doc.contents;
    if (root === null || (isScalar(root) && root.value === null)) {
      this.findings.addAt([], 0, "the file is empty", "run `k8s-ha-offline init` to write a commented cluster.yaml to start from");
      return undefined;
    }
    return this.section(root, "", [], root, false);
  }

  /** Follows an alias, counting its use against MAX_ALIASES. */
  private resolve(node: unknown, path: YamlPath): unknown {
    if (!isAlias(node)) return node;
    this.aliasUses++;
    if (this.aliasUses === MAX_ALIASES + 1)
      this.findings.add(path, `more than ${MAX_ALIASES} aliases (*name) are used`, "write the values out instead of repeating aliases; this limit guards against alias expansion bombs", node);
    if (this.aliasUses > MAX_ALIASES) {
      this.findings.markInvalid(path);
      return undefined;
    }
    const target = this.source.deref(node) as Node | undefined;
    if (target === undefined)
      this.findings.add(path, `the alias *${node.source} refers to no anchor`, `define &${node.source} on a value earlier in the file, or write the value out`, node);
    return target;
  }

  private section(node: unknown, sectionPath: string, path: YamlPath, where: unknown, isOverride: boolean): PlainMap | undefined {
    const n = this.resolve(node, path);
    if (!isMap(n)) {
      const hint = typeof path[path.length - 1] === "number" ? "write each item as key: value lines after the -, or as { key: value, ... }" : "write its keys on the following lines, indented under it";
      if (n !== undefined) this.findings.add(path, `expected a mapping (key: value lines), got ${describe(n)}`, hint, where);
      return undefined;
    }
    const fields = childrenOf(sectionPath);
    const byKey = new Map(fields.map((f) => [keyName(f), f]));
    const out: PlainMap = {};
    const seen = new Set<string>();
    for (const pair of n.items) {
      const keyNode = this.resolve(pair.key, path);
      if (!isScalar(keyNode) || typeof keyNode.value !== "string") {
        const what = isScalar(keyNode) ? `the key ${JSON.stringify(keyNode.value)} is not a name` : `${describe(keyNode)} is used as a key`;
        this.findings.add(path, what, "keys are words like port or address; see the config reference for the keys of this section", pair.key ?? n);
        continue;
      }
      const key = keyNode.value;
      const field = byKey.get(key);
      if (!field) {
        this.unknownKey([...path, key], key, [...byKey.keys()], keyNode);
        continue;
      }
      seen.add(key);
      const value = this.value(field, pair.value, [...path, key], keyNode, isOverride);
      if (value !== undefined) out[key] = value;
    }
    if (!isOverride)
      for (const f of fields) {
        const key = keyName(f);
        const childPath = [...path, key];
        if (f.required && out[key] === undefined && !this.findings.isInvalid(childPath)) {
          const what = seen.has(key) ? `"${key}" has no value` : `the required key "${key}" is missing`;
          const under = path.length ? ` under ${renderPath(path)}` : " at the top level";
          this.findings.add(childPath, what, `add ${key}:${under}. ${f.doc}`, where);
        }
      }
    return out;
  }

  private unknownKey(path: YamlPath, key: string, known: string[], keyNode: Node): void {
    if (PASSWORD_KEY.test(key) && !known.includes(key)) {
      this.findings.add(path, "passwords are never written in cluster.yaml", "put the password in an environment variable and name it with ssh.passwordEnv (e.g. passwordEnv: K8S_SSH_PASSWORD), or leave it out to be prompted; remove this key", keyNode);
      return;
    }
    if (key === "<<") {
      this.findings.add(path, "merge keys (<<) are not supported", "write the keys out; YAML 1.2 has no merge keys", keyNode);
      return;
    }
    const guess = closest(key, known);
    const shown = JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}…` : key);
    this.findings.add(path, `unknown key ${shown}`, guess ? `did you mean "${guess}"?` : `allowed here: ${known.join(", ")}`, keyNode);
  }

  private value(field: Field, node: unknown, path: YamlPath, keyNode: Node, isOverride: boolean): Plain | undefined {
    const n = this.resolve(node, path);
    if (n === undefined || (isScalar(n) && n.value === null)) return undefined;
    switch (field.type) {
      case "section":
        return this.section(n, field.path, path, keyNode, isOverride || !!field.overrides);
      case "sectionList":
        return this.list(field, n, path, keyNode, (item, i) => this.section(item, field.path, [...path, i], item, false));
      case "list":
        return this.list(field, n, path, keyNode, (item, i) => this.scalarString(field, item, [...path, i], item));
      case "integer":
        return this.integer(field, n, path);
      case "boolean":
        if (isScalar(n) && typeof n.value === "boolean") return n.value;
        this.findings.add(path, `expected true or false, got ${describe(n)}`, `write ${keyName(field)}: true or ${keyName(field)}: false (without quotes)`, n);
        return undefined;
      case "string":
      case "enum":
        return this.scalarString(field, n, path, n);
    }
  }

  private list(field: Field, n: unknown, path: YamlPath, where: Node, item: (node: unknown, i: number) => Plain | undefined): Plain[] | undefined {
    if (!isSeq(n)) {
      const example = isScalar(n) && typeof n.value === "string" && field.type === "list" ? `: [${n.value}]` : ", one item per line starting with -";
      this.findings.add(path, `expected a list, got ${describe(n)}`, `write it as a list${example}`, isScalar(n) ? n : where);
      return undefined;
    }
    const max = field.maxLength ?? 1000;
    if (n.items.length > max) {
      this.findings.add(path, `has ${n.items.length} items, more than the ${max} allowed`, "shorten the list", where);
      return undefined;
    }
    const out: Plain[] = [];
    const firstAt = new Map<string, number>();
    n.items.forEach((raw, i) => {
      const node = this.resolve(raw, [...path, i]);
      if (node === undefined) return;
      const v = item(node, i);
      if (v === undefined) return;
      if (field.unique && typeof v === "string") {
        if (firstAt.has(v)) {
          this.findings.add([...path, i], `"${v}" is listed twice`, `remove the repeated entry (first at ${renderPath([...path, firstAt.get(v)!])})`, node);
          return;
        }
        firstAt.set(v, i);
      }
      out.push(v);
    });
    return out;
  }

  private integer(field: Field, n: unknown, path: YamlPath): number | undefined {
    const v = isScalar(n) ? n.value : undefined;
    if (typeof v !== "number" || !Number.isInteger(v)) {
      const quoted = typeof v === "string" && /^\d+$/.test(v.trim());
      this.findings.add(path, `expected a whole number, got ${describe(n)}`, quoted ? "remove the quotes around the number" : `write a number from ${field.min} to ${field.max}`, n);
      return undefined;
    }
    if (v < field.min! || v > field.max!) {
      this.findings.add(path, `${v} is out of range`, `use a number from ${field.min} to ${field.max}`, n);
      return undefined;
    }
    return v;
  }

  private scalarString(field: Field, n: unknown, path: YamlPath, at: unknown): string | undefined {
    const v = isScalar(n) ? n.value : undefined;
    if (typeof v !== "string") {
      const example = typeof v === "number" || typeof v === "boolean" ? `quote it: "${v}"` : field.values ? `use one of: ${field.values.join(", ")}` : "write a single text value";
      this.findings.add(path, `expected text, got ${describe(n)}`, example, at);
      return undefined;
    }
    const max = field.type === "list" || field.type === "enum" ? DEFAULT_MAX_LENGTH : (field.maxLength ?? DEFAULT_MAX_LENGTH);
    if (v.length > max) {
      this.findings.add(path, `the value is ${v.length} characters long, more than the ${max} allowed`, "shorten it", at);
      return undefined;
    }
    if (field.values?.length === 1 && v !== field.values[0]) {
      this.findings.add(path, `must be ${field.values[0]}, not ${JSON.stringify(v)}`, `write ${keyName(field)}: ${field.values[0]} (this is the only format this version of k8s-ha-offline reads)`, at);
      return undefined;
    }
    if (field.values) {
      if (field.values.includes(v)) return v;
      const guess = closest(v, field.values);
      this.findings.add(path, `${JSON.stringify(v)} is not one of: ${field.values.join(", ")}`, guess ? `did you mean "${guess}"?` : `use one of: ${field.values.join(", ")}`, at);
      return undefined;
    }
    const format = field.format ? FORMATS[field.format] : undefined;
    const problem = format ? format.check(v) : /[\u0000-\u001f]/.test(v) ? { message: "contains a control character", hint: "remove it" } : undefined;
    if (problem) {
      this.findings.add(path, problem.message, problem.hint, at);
      return undefined;
    }
    return format?.normalize ? format.normalize(v) : v;
  }
}
