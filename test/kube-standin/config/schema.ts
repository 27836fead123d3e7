// A tiny strict decoder: every field of a kubeadm/kubelet/kube-proxy document must be known and of the
// right type. Real kubeadm only WARNS about unknown fields (klog W-line "error unmarshaling configuration
// ...: strict decoding error: unknown field ..."); the stand-in makes the same message fatal, so a typo in
// the installer's template can never pass the lab silently.
import { parseDuration } from "../lib/duration.ts";

export type Spec =
  | "string" | "int" | "bool" | "duration" | "quantity" | "any"
  | "stringList" | "stringMap" | "nullableList"
  | { object: Schema } | { listOf: Spec } | { mapOf: Spec };
export interface Schema { [field: string]: Spec }

export interface Gvk { group: string; version: string; kind: string }

const goType = (s: Spec): string =>
  typeof s === "string"
    ? ({ string: "string", int: "int32", bool: "bool", duration: "v1.Duration", quantity: "string", any: "interface {}", stringList: "[]string", stringMap: "map[string]string", nullableList: "[]v1.Taint" } as const)[s]
    : "object" in s ? "struct" : "listOf" in s ? `[]${goType(s.listOf)}` : `map[string]${goType(s.mapOf)}`;

const jsonType = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "object" ? "object" : typeof v);

export class DecodeProblems {
  readonly items: string[] = [];
  constructor(private readonly gvk: Gvk, private readonly legacyWording: boolean) {}
  private prefix() {
    const { group, version, kind } = this.gvk;
    return `error unmarshaling configuration schema.GroupVersionKind{Group:"${group}", Version:"${version}", Kind:"${kind}"}: `;
  }
  unknown(path: string) {
    const leaf = path.split(".").pop();
    this.items.push(this.prefix() + (this.legacyWording ? `error unmarshaling JSON: while decoding JSON: json: unknown field "${leaf}" (at ${path})` : `strict decoding error: unknown field "${path}"`));
  }
  badType(path: string, value: unknown, spec: Spec) {
    this.items.push(this.prefix() + `json: cannot unmarshal ${jsonType(value)} into Go struct field ${this.gvk.kind}.${path} of type ${goType(spec)}`);
  }
  invalid(path: string, value: unknown, why: string) {
    this.items.push(`${path}: Invalid value: ${JSON.stringify(value)}: ${why}`);
  }
}

function checkValue(v: unknown, spec: Spec, path: string, p: DecodeProblems) {
  if (v === null || v === undefined) return; // null means "unset" for every Go pointer/slice/map field
  if (typeof spec === "string") {
    switch (spec) {
      case "any": return;
      case "string": case "quantity": if (typeof v !== "string" && !(spec === "quantity" && typeof v === "number")) p.badType(path, v, spec); return;
      case "int": if (typeof v !== "number" || !Number.isInteger(v)) p.badType(path, v, spec); return;
      case "bool": if (typeof v !== "boolean") p.badType(path, v, spec); return;
      case "duration":
        if (typeof v !== "string") return p.badType(path, v, spec);
        if (parseDuration(v) === null) p.invalid(path, v, `time: invalid duration "${v}"`);
        return;
      case "stringList": case "nullableList":
        if (!Array.isArray(v)) return p.badType(path, v, spec);
        if (spec === "stringList") v.forEach((x, i) => typeof x !== "string" && p.badType(`${path}[${i}]`, x, "string"));
        return;
      case "stringMap":
        if (jsonType(v) !== "object") return p.badType(path, v, spec);
        for (const [k, x] of Object.entries(v as object)) if (typeof x !== "string") p.badType(`${path}.${k}`, x, "string");
        return;
    }
  }
  if ("object" in spec) {
    if (jsonType(v) !== "object") return p.badType(path, v, spec);
    checkObject(v as Record<string, unknown>, spec.object, path, p);
  } else if ("listOf" in spec) {
    if (!Array.isArray(v)) return p.badType(path, v, spec);
    v.forEach((x, i) => checkValue(x, spec.listOf, `${path}[${i}]`, p));
  } else {
    if (jsonType(v) !== "object") return p.badType(path, v, spec);
    for (const [k, x] of Object.entries(v as object)) checkValue(x, spec.mapOf, `${path}.${k}`, p);
  }
}

export function checkObject(obj: Record<string, unknown>, schema: Schema, path: string, p: DecodeProblems) {
  for (const [k, v] of Object.entries(obj)) {
    const at = path ? `${path}.${k}` : k;
    const spec = schema[k];
    if (spec === undefined) p.unknown(at);
    else checkValue(v, spec, at, p);
  }
}
