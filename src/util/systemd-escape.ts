// A value written as one argument of a systemd Exec*= line. systemd parses that line itself (no shell):
// it expands `%` specifiers and `$VAR` references everywhere, even inside quotes, and splits words
// at spaces unless quoted, so a bundle directory with a space, `%`, `$` or `;` would change the command.

/** Characters systemd reads as themselves in a bare word (the same set the shell leaves alone). */
const BARE = /^[A-Za-z0-9_@+=:,./-]+$/;

const hex = (c: string) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;

/**
 * One word that systemd hands to the program as exactly `value`: `%` → `%%`, `$` → `$$`, and, unless
 * every character is plain, the whole in double quotes with `\`, `"` and control characters escaped
 * (C-style escapes, which systemd decodes inside quotes).
 */
export function systemdArg(value: string): string {
  if (value === "") return '""';
  if (BARE.test(value)) return value;
  const escaped = value.replace(/[\\"]/g, "\\$&").replace(/[\u0000-\u001f\u007f]/g, hex);
  return `"${escaped.replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`;
}
