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
export async function inContainer(host: Host): Promise<boolean> {
  return (await host.exec(sh`systemd-detect-virt -c`, { check: false })).stdout.trim() !== "none";
}
