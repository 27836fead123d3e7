// The README's config reference is the generated one; and the generated one covers the whole schema.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REFERENCE_END, REFERENCE_START, renderConfigReference, withConfigReference } from "../../src/config/reference.ts";
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

  test("withConfigReference replaces exactly the block between the markers", () => {
    const doc = `# T\n\nbefore\n${REFERENCE_START}\nstale | table\n${REFERENCE_END}\nafter\n`;
    const updated = withConfigReference(doc);
    expect(updated).toBe(`# T\n\nbefore\n${REFERENCE_START}\n${renderConfigReference()}${REFERENCE_END}\nafter\n`);
    expect(withConfigReference(updated)).toBe(updated);
    expect(withConfigReference("no markers here\n")).toBe("no markers here\n");
  });

  test.skipIf(!hasMarkers)("README.md carries the generated reference between its markers", () => {
    if (withConfigReference(text) !== text)
      throw new Error(`README.md's config reference is out of date; regenerate it with:\n  node_modules/.bin/bun -e 'import { withConfigReference as w } from "./src/config/reference.ts"; await Bun.write("README.md", w(await Bun.file("README.md").text()))'`);
  });
});
