// Layers point down only (issue 14 item 4): cli → ops/phases → cluster → hosts/pki/certs/depot/config/
// templates/profiles/bundle → util. This reads every src/**/*.ts, resolves its relative imports (type-only
// ones too: a type import ties the modules together just the same) and fails, naming file → import,
// on an import that points up a layer, and on any import cycle.
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");

/** Rank of each layer: a module may import its own rank or lower, never higher. */
const RANK: Record<string, number> = {
  util: 0,
  config: 1, hosts: 1, pki: 1, certs: 1, depot: 1, templates: 1, profiles: 1, bundle: 1,
  cluster: 2,
  phases: 3, ops: 3,
  cli: 4,
};
/** Files directly under src/ and the layer they belong to. */
const TOP_LEVEL: Record<string, string> = { "cli.ts": "cli", "version.ts": "util", "assets.d.ts": "util" };

export type Graph = Map<string, string[]>;

export function layerOf(file: string): string | undefined {
  const [first, ...rest] = file.split("/");
  return rest.length ? first : TOP_LEVEL[first!];
}

const STATIC = /^[ \t]*(?:import|export)\s+(?:type\s+)?[\w\s{},*$]*?\bfrom\s*["']([^"']+)["']/gm;
const SIDE_EFFECT = /^[ \t]*import\s*["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** The module specifiers a source text imports: static, re-exports, side-effect and import("literal"). */
export function specifiers(text: string): string[] {
  const code = text.split("\n").filter((l) => !/^\s*(\/\/|\*|\/\*)/.test(l)).join("\n");
  return [STATIC, SIDE_EFFECT, DYNAMIC].flatMap((re) => [...code.matchAll(re)].map((m) => m[1]!));
}

function resolveImport(fromAbs: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = resolve(dirname(fromAbs), spec);
  return [base, `${base}.ts`, join(base, "index.ts")].find((p) => p.endsWith(".ts") && existsSync(p));
}

/** src-relative file → src-relative .ts files it imports (assets, packages and files outside src/ left out). */
export function readGraph(root = SRC): Graph {
  const graph: Graph = new Map();
  for (const file of new Bun.Glob("**/*.ts").scanSync(root)) {
    const abs = join(root, file);
    const targets = specifiers(readFileSync(abs, "utf8"))
      .map((s) => resolveImport(abs, s))
      .filter((p): p is string => p !== undefined && !relative(root, p).startsWith(".."))
      .map((p) => relative(root, p));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Imports from a lower layer into a higher one, as "file → import"; unknown layers are problems too. */
export function upwardImports(graph: Graph): string[] {
  const out: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file);
    if (from === undefined || RANK[from] === undefined) {
      out.push(`${file}: in no known layer (add its directory to RANK in test/unit/import-graph.test.ts)`);
      continue;
    }
    for (const t of targets) {
      const to = layerOf(t);
      if (to !== undefined && RANK[to] !== undefined && RANK[to]! > RANK[from]!) out.push(`${file} → ${t} (${from} imports ${to})`);
    }
  }
  return out.sort();
}

/** One cycle per strongly connected component (Tarjan), each as "a → b → … → a". */
export function importCycles(graph: Graph): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc = new Set<string>();
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.add(w);
    } while (w !== v);
    if (scc.size > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(cycleWithin(graph, scc, v).join(" → "));
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

/** A path start → … → start that stays inside the component (breadth-first, so it is a shortest one). */
function cycleWithin(graph: Graph, scc: Set<string>, start: string): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!scc.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at = v; at !== start; at = prev.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

test("the checker can fail: a synthetic graph with an upward import and a cycle", () => {
  const bad: Graph = new Map([
    ["util/log.ts", ["phases/phase.ts"]],
    ["phases/phase.ts", ["util/log.ts", "config/types.ts"]],
    ["config/types.ts", []],
    ["cluster/etcd.ts", ["ops/status.ts"]],
    ["ops/status.ts", ["cluster/etcd.ts"]],
    ["cli/a.ts", ["cli/b.ts"]],
    ["cli/b.ts", ["cli/a.ts", "phases/phase.ts"]],
    ["weird/x.ts", []],
  ]);
  expect(upwardImports(bad)).toEqual([
    "cluster/etcd.ts → ops/status.ts (cluster imports ops)",
    "util/log.ts → phases/phase.ts (util imports phases)",
    "weird/x.ts: in no known layer (add its directory to RANK in test/unit/import-graph.test.ts)",
  ]);
  expect(importCycles(bad).sort()).toEqual([
    "cli/a.ts → cli/b.ts → cli/a.ts",
    "cluster/etcd.ts → ops/status.ts → cluster/etcd.ts",
    "phases/phase.ts → util/log.ts → phases/phase.ts",
  ]);
});

test("the parser sees every kind of relative import", () => {
  const text = [
    `import { a } from "./a.ts";`,
    `import type {`,
    `  B,`,
    `  C,`,
    `} from "../b.ts";`,
    `export { d } from "./d.ts";`,
    `export * from "./e.ts";`,
    `import "./f.ts";`,
    `const g = await import("./g.ts");`,
    `function h(x: import("../h.ts").H) {}`,
    `// import { no } from "./commented.ts";`,
    `export const s = "not from './x.ts'";`,
  ].join("\n");
  expect(specifiers(text).sort()).toEqual(["../b.ts", "../h.ts", "./a.ts", "./d.ts", "./e.ts", "./f.ts", "./g.ts"]);
});

const graph = readGraph();

test("src/ has its modules in the graph", () => {
  expect(graph.size).toBeGreaterThan(50);
  expect(graph.get("cli.ts")).toContain("cli/main.ts");
});

test("no module imports a layer above its own", () => {
  expect(upwardImports(graph)).toEqual([]);
});

test("no import cycles", () => {
  expect(importCycles(graph)).toEqual([]);
});
