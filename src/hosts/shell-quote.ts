// POSIX shell quoting for everything we splice into remote command lines (paths, commands).

/** One shell word that the shell will read back as exactly `s`. */
export function shq(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
