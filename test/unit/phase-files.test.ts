// src/phases/ matches PHASES one to one: each phase lives in the file named after it, and every other
// file there is the phase machinery or a helper in util/ (a phase's own folder may hold its parts).
import { expect, test } from "bun:test";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { PHASES } from "../../src/phases/index.ts";

const DIR = resolve(import.meta.dir, "../../src/phases");
/** What a phase is, the ordered list, the runner, steps and the record of finished phases. */
const MACHINERY = ["index.ts", "phase.ts", "runner.ts", "state.ts", "steps.ts"];
const fileOf = (name: string) => (existsSync(join(DIR, `${name}.ts`)) ? `${name}.ts` : existsSync(join(DIR, name, "index.ts")) ? `${name}/index.ts` : undefined);

test("every phase is in the file named after it, and exports itself from there", async () => {
  for (const phase of PHASES) {
    const file = fileOf(phase.name);
    expect(file, `src/phases/${phase.name}.ts`).toBeDefined();
    const mod = (await import(join(DIR, file!))) as Record<string, unknown>;
    expect(Object.values(mod), `${file} exports ${phase.name}`).toContain(phase);
  }
});

test("src/phases/ holds nothing else than the phases, the machinery and util/", () => {
  const names = new Set(PHASES.map((p) => p.name));
  const strays = readdirSync(DIR).filter((f) => {
    if (MACHINERY.includes(f) || f === "util") return false;
    const name = statSync(join(DIR, f)).isDirectory() ? f : f.replace(/\.ts$/, "");
    return !names.has(name);
  });
  expect(strays).toEqual([]);
});
