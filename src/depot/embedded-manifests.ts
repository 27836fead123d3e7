// The package manifests (rpms/<profile>.yaml) travel inside the executable, so the nodes are
// checked against exact versions (epochs included, which file names drop) without the source tree.
import YAML from "yaml";
import type { PackageManifest } from "./profiles.ts";
import debian12 from "../../rpms/debian12.yaml" with { type: "text" };

const TEXTS: Record<string, string> = { debian12 };

export function embeddedPackageManifest(profile: string): PackageManifest | undefined {
  const text = TEXTS[profile];
  return text ? (YAML.parse(text) as PackageManifest) : undefined;
}
