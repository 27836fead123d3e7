// Paths from the config end up in shell commands on master1 and in the depot's systemd unit. Every
// one of those is quoted, but a path has no business holding quotes, `$`, `;`, `%` or backslashes:
// refusing them when the file is read keeps a typo (or a pasted command) from ever reaching a shell.

/** Letters and digits (any script), space, and / . _ - + @ , : = ; a leading ~ means the home directory. */
const SAFE = /^~?[\p{L}\p{N} /._\-+@,:=]*$/u;
const SAFE_CHAR = /[\p{L}\p{N} /._\-+@,:=]/u;

/** What is wrong with a path value, in the shape formats.ts reports problems in. */
export function unsafePathProblem(v: string): { message: string; hint: string } | undefined {
  if (SAFE.test(v)) return undefined;
  const bad = [...v].find((ch, i) => !SAFE_CHAR.test(ch) && !(ch === "~" && i === 0))!;
  return {
    message: `${JSON.stringify(v)} contains ${JSON.stringify(bad)}, which a path here may not hold`,
    hint: "use letters, digits, spaces and / . _ - + @ , : = only (and ~ at the start for the home directory)",
  };
}
