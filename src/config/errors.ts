// The one error the config loader throws for bad input. It carries every problem found, each with
// its place in the file, so the operator can fix them all in one go instead of one per run.

export interface ConfigIssue {
  /** YAML path of the offending value, e.g. `hosts[2].address`; `(document)` for the file as a whole. */
  path: string;
  /** 1-based line and column in the file; 0 when the problem is not inside the text (e.g. unreadable file). */
  line: number;
  col: number;
  /** What is wrong, naming the offending value. */
  message: string;
  /** What to do about it, in plain English. */
  hint: string;
}

/** Control and bidi-override characters from the file are shown escaped, never sent raw to the terminal. */
const unprintable = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const printable = (s: string) => s.replace(unprintable, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** Without a position (unreadable file): `cluster.yaml: message — hint`. Otherwise
 *  `cluster.yaml:12:7 hosts[2].address: "…" is not an IPv4 address — use a dotted quad like 192.168.217.22` */
export function formatIssue(source: string, i: ConfigIssue): string {
  const hint = i.hint ? ` — ${i.hint}` : "";
  const text = i.line <= 0 ? `${source}: ${i.message}${hint}` : `${source}:${i.line}:${i.col} ${i.path}: ${i.message}${hint}`;
  return printable(text);
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    /** The file name as the operator gave it, used as the prefix of every line. */
    readonly source: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`${source}: ${issues.length} problem${issues.length === 1 ? "" : "s"} in the cluster configuration`);
  }

  /** One issue per line, in file order; meant to be printed as is to the operator (no stack). */
  format(): string {
    return this.issues.map((i) => formatIssue(this.source, i)).join("\n");
  }
}
