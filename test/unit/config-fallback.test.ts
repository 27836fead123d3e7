// Any master answers status with no arguments: without ./cluster.yaml, the copy kept in the state dir is read.
import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configPath } from "../../src/cli/run-inputs.ts";

const cwd = process.cwd();
afterEach(() => process.chdir(cwd));

test("-c wins; else ./cluster.yaml; else stateDir/cluster.yaml; else ./cluster.yaml (for its 'no such file' error)", () => {
  const base = mkdtempSync(join(tmpdir(), "config-fallback-"));
  const here = join(base, "work");
  const state = join(base, "state");
  mkdirSync(here);
  mkdirSync(state);
  process.chdir(here);
  expect(configPath({ config: "cluster.yaml" }, state)).toBe(join(here, "cluster.yaml"));
  writeFileSync(join(state, "cluster.yaml"), "name: lab\n");
  expect(configPath({ config: "cluster.yaml" }, state)).toBe(join(state, "cluster.yaml"));
  expect(configPath({ config: "other.yaml" }, state)).toBe(join(here, "other.yaml")); // an explicit other file never falls back
  writeFileSync(join(here, "cluster.yaml"), "name: lab\n");
  expect(configPath({ config: "cluster.yaml" }, state)).toBe(join(here, "cluster.yaml"));
});
