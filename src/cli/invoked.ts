// How the operator started this binary, for hints they can paste back: "./k8s-ha-offline",
// "/usr/local/bin/k8s-ha-offline" or "k8s-ha-offline" from PATH; "bun src/cli.ts" from source.
// A compiled Bun binary has argv ["bun", "/$bunfs/root/<name>", ...]: what was typed is process.argv0.
import { basename } from "node:path";

export function invokedAs(p: { argv: readonly string[]; argv0: string } = process): string {
  const script = p.argv[1] ?? "";
  if (script.startsWith("/$bunfs/") || script.startsWith("B:/~BUN/")) return p.argv0 || "k8s-ha-offline";
  if (basename(p.argv0) === "bun" && /\.ts$/.test(script)) return `bun ${script}`;
  return "k8s-ha-offline";
}
