// The parsed YAML text with positions: maps a YAML path to line:column and collects the issues found.
import { type Document, isAlias, isCollection, isMap, isScalar, isSeq, type LineCounter, type Node, visit } from "yaml";
import type { ConfigIssue } from "./errors.ts";

export type YamlPath = readonly (string | number)[];

/** `hosts[2].address`; keys that are not plain words are quoted: `ssh["bad key"]`. */
export function renderPath(path: YamlPath): string {
  if (path.length === 0) return "(document)";
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

const contains = (n: unknown, offset: number): boolean => {
  const r = (n as Node | null)?.range;
  return !!r && offset >= r[0] && offset < Math.max(r[2], r[0] + 1);
};

export class YamlSource {
  constructor(
    readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  lineCol(offset: number): { line: number; col: number } {
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  private anchors?: Map<string, Node[]>;

  /**
   * Follow an alias to the node it names: the closest anchor of that name before it (YAML allows
   * redefining one). Anchors are indexed once; yaml's own Alias.resolve walks the whole document per call.
   */
  deref(n: unknown): unknown {
    if (!isAlias(n)) return n;
    if (!this.anchors) {
      const anchors = new Map<string, Node[]>();
      visit(this.doc, {
        Node: (_, node) => {
          if (node.anchor && !isAlias(node)) anchors.set(node.anchor, [...(anchors.get(node.anchor) ?? []), node]);
        },
      });
      this.anchors = anchors;
    }
    const at = n.range?.[0] ?? Infinity;
    return this.anchors.get(n.source)?.filter((node) => (node.range?.[0] ?? Infinity) < at).at(-1);
  }

  /**
   * The node to point at for a path: a scalar value itself, or for a collection the key that
   * introduces it (a block mapping starts on the line after its key). Falls back to the deepest
   * ancestor that exists, so a missing key points at its parent.
   */
  anchorFor(path: YamlPath): Node | undefined {
    let current: unknown = this.doc.contents;
    let anchor: Node | undefined = (this.doc.contents as Node | null) ?? undefined;
    for (const seg of path) {
      const n = this.deref(current);
      if (isMap(n)) {
        const pair = n.items.find((p) => isScalar(p.key) && p.key.value === seg);
        if (!pair) break;
        const value = this.deref(pair.value);
        anchor = (isScalar(value) && value.value !== null ? (pair.value as Node) : (pair.key as Node)) ?? anchor;
        current = pair.value;
      } else if (isSeq(n) && typeof seg === "number" && n.items[seg] !== undefined) {
        anchor = (n.items[seg] as Node) ?? anchor;
        current = n.items[seg];
      } else break;
    }
    return anchor;
  }

  /**
   * The YAML path of the innermost key or item whose text contains `offset` (for syntax errors).
   * Stops at a key that is not a plain name: in a broken file that "key" is usually several lines run together.
   */
  pathAt(offset: number): YamlPath {
    const path: (string | number)[] = [];
    let n: unknown = this.doc.contents;
    while (isCollection(n)) {
      let next: unknown;
      if (isMap(n)) {
        for (const p of n.items) {
          const start = (p.key as Node | null)?.range?.[0];
          const end = ((p.value as Node | null)?.range ?? (p.key as Node | null)?.range)?.[2];
          if (start === undefined || end === undefined || offset < start || offset >= Math.max(end, start + 1)) continue;
          const key = isScalar(p.key) ? String(p.key.value) : "";
          if (/^[A-Za-z0-9_-]+$/.test(key)) {
            path.push(key);
            next = contains(p.value, offset) ? p.value : undefined;
          }
          break;
        }
      } else {
        const i = n.items.findIndex((item) => contains(item, offset));
        if (i >= 0) {
          path.push(i);
          next = n.items[i];
        }
      }
      n = next;
    }
    return path;
  }
}

/** Issues in the making: each is tied to a YAML path; the path is remembered as invalid so no default papers over it. */
export class Findings {
  readonly issues: ConfigIssue[] = [];
  readonly invalid = new Set<string>();

  constructor(private readonly source: YamlSource | undefined) {}

  /** Report at a given node (or at the path's own place in the file when none is given). */
  add(path: YamlPath, message: string, hint: string, node?: unknown): void {
    const where = (node as Node | undefined)?.range ? (node as Node) : this.source?.anchorFor(path);
    this.addAt(path, where?.range ? where.range[0] : 0, message, hint);
  }

  addAt(path: YamlPath, offset: number, message: string, hint: string): void {
    const { line, col } = this.source ? this.source.lineCol(offset) : { line: 1, col: 1 };
    this.invalid.add(renderPath(path));
    this.issues.push({ path: renderPath(path), line, col, message, hint });
  }

  /** Remember a path as wrong without a new issue (its issue was reported elsewhere). */
  markInvalid(path: YamlPath): void {
    this.invalid.add(renderPath(path));
  }

  isInvalid(path: YamlPath): boolean {
    return this.invalid.has(renderPath(path));
  }

  sorted(): ConfigIssue[] {
    return [...this.issues].sort((a, b) => a.line - b.line || a.col - b.col);
  }
}
