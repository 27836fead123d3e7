// Command-line flags in cobra's style (--name=value, --name value, -n value, repeated lists),
// rejecting unknown flags with cobra's own message.
import { fail } from "./errors.ts";

export type FlagKind = "string" | "bool" | "list";
export interface FlagSpec { [name: string]: FlagKind }
export interface Parsed { flags: Record<string, string | boolean | string[]>; args: string[] }

export function parseFlags(argv: string[], spec: FlagSpec, aliases: Record<string, string> = {}): Parsed {
  const flags: Parsed["flags"] = {};
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") { args.push(...argv.slice(i + 1)); break; }
    if (!a.startsWith("-") || a === "-") { args.push(a); continue; }
    const eq = a.indexOf("=");
    let name = (eq > 0 ? a.slice(0, eq) : a).replace(/^--?/, "");
    name = aliases[name] ?? name;
    const kind = spec[name];
    if (!kind) fail(`unknown flag: ${eq > 0 ? a.slice(0, eq) : a}\nRun with --help for usage.`);
    let value: string | undefined = eq > 0 ? a.slice(eq + 1) : undefined;
    if (kind === "bool") {
      flags[name] = value === undefined ? true : value === "true";
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) fail(`flag needs an argument: --${name}`);
    }
    if (kind === "list") flags[name] = [...((flags[name] as string[]) ?? []), ...value!.split(",").filter(Boolean)];
    else flags[name] = value!;
  }
  return { flags, args };
}

export const str = (p: Parsed, n: string) => p.flags[n] as string | undefined;
export const bool = (p: Parsed, n: string) => p.flags[n] === true;
export const list = (p: Parsed, n: string) => (p.flags[n] as string[] | undefined) ?? [];
