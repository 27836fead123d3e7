// Templates are files in assets/ with {{name}} placeholders. Rendering is strict both ways:
// a placeholder without a value and a value the template never uses are bugs, not blanks.
export function render(template: string, values: Record<string, string | number | boolean>, name = "template"): string {
  const used = new Set<string>();
  const out = template.replace(/\{\{\s*([a-zA-Z][\w]*)\s*\}\}/g, (_, key: string) => {
    if (!(key in values)) throw new Error(`${name}: no value for {{${key}}}`);
    used.add(key);
    return String(values[key]);
  });
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`${name}: values not used by the template: ${unused.join(", ")}`);
  return out;
}
