// The config reference (a markdown table) generated from the schema; README.md carries a copy that a test keeps in sync.
import { FORMATS } from "./formats.ts";
import { type Field, SCHEMA } from "./schema.ts";

export const REFERENCE_START = "<!-- config-reference:start -->";
export const REFERENCE_END = "<!-- config-reference:end -->";

function typeOf(f: Field): string {
  const what = f.format ? FORMATS[f.format].what : "text";
  switch (f.type) {
    case "section":
      return "mapping";
    case "sectionList":
      return "list of mappings";
    case "integer":
      return `integer ${f.min}-${f.max}`;
    case "boolean":
      return "true / false";
    case "enum":
      return f.values!.map((v) => `\`${v}\``).join(" / ");
    case "list":
      return f.values ? `list of ${f.values.map((v) => `\`${v}\``).join(" / ")}` : `list of ${what}`;
    case "string":
      return what;
  }
}

function defaultOf(f: Field): string {
  if (f.required) return "**required**";
  if (f.derivedDefault) return f.derivedDefault;
  if (f.default === undefined) return f.type === "section" ? "" : "—";
  return `\`${JSON.stringify(f.default).replace(/^"|"$/g, "")}\``;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/<(?![!/])/g, "&lt;");

/** Markdown table: one row per key of cluster.yaml, in file order. */
export function renderConfigReference(): string {
  const rows = SCHEMA.map((f) => `| \`${f.path}\` | ${cell(typeOf(f))} | ${cell(defaultOf(f))} | ${cell(f.doc)} |`);
  return ["| Key | Type | Default | Meaning |", "| --- | --- | --- | --- |", ...rows].join("\n") + "\n";
}

/** README text with the block between the markers replaced by the generated reference (unchanged when the markers are absent). */
export function withConfigReference(readme: string): string {
  const start = readme.indexOf(REFERENCE_START);
  const end = readme.indexOf(REFERENCE_END);
  if (start < 0 || end < start) return readme;
  return `${readme.slice(0, start + REFERENCE_START.length)}\n${renderConfigReference()}${readme.slice(end)}`;
}
