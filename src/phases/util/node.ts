// Small reads every phase needs from a node.
import type { Host } from "../../hosts/host.ts";
import { sh } from "../../util/sh.ts";

/** A file's text, or null when it does not exist. */
export async function readText(host: Host, path: string): Promise<string | null> {
  const b = await host.readFile(path);
  return b ? new TextDecoder().decode(b) : null;
}

/**
 * Whether the node is a container sharing its host's kernel (the lab): there, kernel modules,
 * some sysctls and the clock belong to the host, and the phases say "skipped" instead of failing.
 */
export function inContainer(host: Host): Promise<boolean> {
  // Asked by several phases on every node: once per connected host (a host object lives for one run).
  let known = containerOf.get(host);
  if (!known) {
    known = host.exec(sh`systemd-detect-virt -c`, { check: false }).then((r) => r.stdout.trim() !== "none");
    containerOf.set(host, known);
    known.catch(() => containerOf.delete(host)); // a lost connection is asked again, not remembered
  }
  return known;
}
const containerOf = new WeakMap<Host, Promise<boolean>>();
