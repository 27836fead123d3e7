// --output for the commands that report: table for people, json and yaml for programs (docs/output.md
// is the schema). One parser, so every command spells the formats and the error the same way.
import { stringify } from "yaml";
import { UsageError } from "../util/errors.ts";

export type Format = "table" | "json" | "yaml" | "prometheus";

export function parseOutput<F extends Format>(value: unknown, allowed: readonly F[]): F {
  const v = value === undefined ? "table" : String(value);
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--output must be ${allowed.slice(0, -1).join(", ")} or ${allowed.at(-1)}, got "${v}"`);
  return v as F;
}

/** Machine formats: the object as it is documented, nothing else on stdout. */
export function renderData(data: unknown, format: "json" | "yaml"): string {
  return format === "json" ? `${JSON.stringify(data, null, 2)}\n` : stringify(data);
}
