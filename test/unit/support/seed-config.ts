// The seed topology (the reference deployment in ../shared/seed/: master1-3 = 192.168.217.19-21,
// node1 = .22) as a validated ClusterConfig, straight from the template `init` writes.
import { parseConfig } from "../../../src/config/load.ts";
import { renderInitConfig } from "../../../src/config/init.ts";
import type { ClusterConfig } from "../../../src/config/types.ts";

/** The init template, optionally with text replacements (e.g. another Kubernetes version). */
export function seedConfig(edits: [string | RegExp, string][] = []): ClusterConfig {
  let text = renderInitConfig();
  for (const [from, to] of edits) {
    const next = text.replace(from, to);
    if (next === text) throw new Error(`seedConfig: ${from} not found in the template`);
    text = next;
  }
  return parseConfig(text, "cluster.yaml", "/tmp");
}
