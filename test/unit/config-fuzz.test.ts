// Hundreds of mutations of a valid cluster.yaml: each one loads or is refused with a ConfigError whose
// every issue names a path and a line; nothing else is ever thrown. K8S_CONFIG_FUZZ_SEED / _COUNT to vary.
import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../src/config/errors.ts";
import { parseConfig } from "../../src/config/load.ts";
import { configMutations } from "./fixtures/config/mutations.ts";

const seed = Number(process.env.K8S_CONFIG_FUZZ_SEED ?? 20261125);
const count = Number(process.env.K8S_CONFIG_FUZZ_COUNT ?? 300);
const mutations = configMutations(seed, count);
const tally = { loaded: 0, refused: 0 };

describe(`config fuzz (seed ${seed}, ${count} mutations)`, () => {
  test("at least 200 different mutated files", () => {
    expect(new Set(mutations.map((m) => m.text)).size).toBeGreaterThanOrEqual(200);
  });

  mutations.forEach((m, i) =>
    test(`#${i} ${m.name}`, () => {
      let error: unknown;
      try {
        parseConfig(m.text, "fuzz.yaml", "/tmp");
      } catch (e) {
        error = e;
      }
      if (error === undefined) {
        if (m.expect === "error") throw new Error(`loaded, but this mutation must be refused:\n${m.text.slice(0, 2000)}`);
        tally.loaded++;
        return;
      }
      if (!(error instanceof ConfigError)) throw new Error(`threw something other than ConfigError: ${error instanceof Error ? error.stack : String(error)}`);
      tally.refused++;
      expect(error.issues.length).toBeGreaterThan(0);
      for (const issue of error.issues) {
        expect(issue.path.length).toBeGreaterThan(0);
        expect(issue.line).toBeGreaterThanOrEqual(1);
        expect(issue.col).toBeGreaterThanOrEqual(1);
        expect(issue.message.length).toBeGreaterThan(0);
        expect(issue.hint.length).toBeGreaterThan(0);
      }
      const text = error.format();
      expect(text).not.toContain("    at ");
      expect(text.length).toBeLessThan(200_000);
    }),
  );

  test("summary", () => {
    console.log(`config fuzz: ${tally.loaded} loaded, ${tally.refused} refused with a positioned ConfigError (seed ${seed})`);
    expect(tally.refused).toBeGreaterThan(mutations.length / 2);
  });
});
