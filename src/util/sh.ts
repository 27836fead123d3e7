// Remote commands quoted by construction (as zx does): every ${value} in sh`...` becomes exactly
// one shell word, so a path with a space, a quote or `$(...)` can never turn into a second command.
// Host.exec takes only what this module builds; a unit test (test/unit/quoting.test.ts) fails on
// an exec whose command is a plain template string.

const BRAND: unique symbol = Symbol("ShellCommand");

/** A command line whose every interpolated value was quoted; only sh`` and shellScript() make one. */
export interface ShellCommand {
  readonly [BRAND]: true;
  readonly text: string;
  toString(): string;
}

/** What sh`` accepts between ${}: a word, a number, an already built command, or a list of words. */
export type ShellArg = string | number | ShellCommand | readonly (string | number | ShellCommand)[];

function make(text: string): ShellCommand {
  return { [BRAND]: true, text, toString: () => text };
}

export function isShellCommand(x: unknown): x is ShellCommand {
  return typeof x === "object" && x !== null && (x as ShellCommand)[BRAND] === true;
}

/** One shell word that the shell will read back as exactly `s`. */
export function shq(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function word(v: string | number | ShellCommand): string {
  if (isShellCommand(v)) return v.text;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`sh: ${v} is not a number a shell can take`);
    return String(v);
  }
  if (typeof v !== "string") throw new Error(`sh: cannot interpolate ${typeof v}`);
  return shq(v);
}

/**
 * Build a command: the literal parts are taken as written (they are ours), each interpolated value
 * is quoted as one word; a list becomes several words; a ShellCommand is spliced as it is.
 */
export function sh(strings: TemplateStringsArray, ...values: ShellArg[]): ShellCommand {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += Array.isArray(v) ? (v as readonly (string | number | ShellCommand)[]).map(word).join(" ") : word(v as string | number | ShellCommand);
    out += strings[i + 1]!;
  });
  return make(out);
}

/**
 * A script that is ours as a whole (an embedded asset, a constant), taken without quoting.
 * Never pass text that contains a value from the config, a node or the operator: use sh`` for those.
 */
export function shellScript(text: string): ShellCommand {
  return make(text);
}

/** Join built commands with a separator such as " && " or "; ". */
export function shJoin(cmds: readonly ShellCommand[], sep: " && " | "; " | " || " | "\n" | " | "): ShellCommand {
  return make(cmds.map((c) => c.text).join(sep));
}
