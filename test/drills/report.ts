// Drills add rows (drill, cases, passed, failed) to one file while they run; `npm test` and
// `npm run drills` print the table from it at the end, and the README quotes it.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";

export const DRILL_REPORT = process.env.DRILL_REPORT ?? join(import.meta.dir, "..", "..", "dist", "drills.jsonl");

export interface DrillRow {
  drill: string;
  cases: number;
  passed: number;
  failed: number;
  /** Where it went wrong or what was sampled, for the reader of the table. */
  note?: string;
}

export function recordDrill(row: DrillRow): void {
  mkdirSync(dirname(DRILL_REPORT), { recursive: true });
  appendFileSync(DRILL_REPORT, JSON.stringify(row) + "\n");
}

export function resetDrillReport(): void {
  rmSync(DRILL_REPORT, { force: true });
}

export function readDrillRows(): DrillRow[] {
  if (!existsSync(DRILL_REPORT)) return [];
  return readFileSync(DRILL_REPORT, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as DrillRow);
}

/** The table as plain text (for the terminal) or Markdown (for the README). */
export function drillTable(rows: DrillRow[], markdown = false): string {
  if (markdown)
    return ["| drill | cases | passed | failed |", "| --- | ---: | ---: | ---: |", ...rows.map((r) => `| ${r.drill}${r.note ? ` (${r.note})` : ""} | ${r.cases} | ${r.passed} | ${r.failed} |`)].join("\n");
  const w = Math.max(5, ...rows.map((r) => r.drill.length));
  const line = (d: string, c: string, p: string, f: string) => `${d.padEnd(w)}  ${c.padStart(5)}  ${p.padStart(6)}  ${f.padStart(6)}`;
  return [line("DRILL", "CASES", "PASSED", "FAILED"), ...rows.map((r) => line(r.drill, String(r.cases), String(r.passed), String(r.failed)) + (r.note ? `  ${r.note}` : ""))].join("\n");
}

// `bun test/drills/report.ts [--markdown]` prints the latest table.
if (import.meta.main) console.log(drillTable(readDrillRows(), process.argv.includes("--markdown")));
