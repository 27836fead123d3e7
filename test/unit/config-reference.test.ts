// The README's config reference is the generated one; and the generated one covers the whole schema.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REFERENCE_END, REFERENCE_START, renderConfigReference } from "../../src/config/reference.ts";
import { SCHEMA } from "../../src/config/schema.ts";

const readme = join(import.meta.dir, "..", "..", "README.md");
const text = existsSync(readme) ? readFileSync(readme, "utf8") : "";
const hasMarkers = text.includes(REFERENCE_START) && text.includes(REFERENCE_END);

describe("config reference", () => {
  test("one row per schema key, each with a type and a meaning", () => {
    const rows = renderConfigReference().trimEnd().split("\n").slice(2);
    expect(rows.length).toBe(SCHEMA.length);
    rows.forEach((row, i) => {
      const cells = row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
      expect(cells.length).toBe(4);
      expect(cells[0]).toBe(`\`${SCHEMA[i]!.path}\``);
      expect(cells[1]!.length).toBeGreaterThan(0);
      expect(cells[3]!.length).toBeGreaterThan(10);
    });
  });

  if (!hasMarkers)
    console.warn(`config-reference: README.md has no ${REFERENCE_START} … ${REFERENCE_END} block yet — skipping the sync check (the lead adds the markers)`);

  test.skipIf(!hasMarkers)("README.md carries the generated reference between its markers", () => {
    const inReadme = text.slice(text.indexOf(REFERENCE_START) + REFERENCE_START.length, text.indexOf(REFERENCE_END)).trim();
    if (inReadme !== renderConfigReference().trim())
      throw new Error(`README.md's config reference is out of date; replace the block between the markers with the output of:\n  bun -e 'import { renderConfigReference } from "./src/config/reference.ts"; console.log(renderConfigReference())'`);
  });
});
