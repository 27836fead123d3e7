// Who holds the VIP right now: the kernel's address list on each control-plane node is the truth
// (keepalived's own state can claim MASTER while the address is gone, and vice versa).
import type { Host } from "../hosts/host.ts";
import { sh } from "../util/sh.ts";

export interface NamedHost {
  name: string;
  host: Host;
}

/** Whether `ip -o addr` output lists this IPv4 address on some interface (any prefix length). */
export function listsAddress(ipOutput: string, address: string): boolean {
  return ipOutput.split("\n").some((line) => {
    const m = /\sinet6?\s+([^\s/]+)/.exec(line);
    return m?.[1] === address;
  });
}

export const VIP_QUERY = sh`ip -o addr show`;

/**
 * The nodes whose interfaces carry the VIP: exactly one in a healthy cluster, none while it moves,
 * two in a split brain. A node that cannot be asked is reported in `unknown`, not as a non-holder guess.
 */
export async function vipHolders(nodes: readonly NamedHost[], vip: string, timeoutMs = 5_000): Promise<{ holders: string[]; unknown: string[] }> {
  const answers = await Promise.all(
    nodes.map(async (n) => {
      try {
        const r = await n.host.exec(VIP_QUERY, { check: false, timeoutMs });
        return r.code === 0 ? (listsAddress(r.stdout, vip) ? "holder" : "not") : "unknown";
      } catch {
        return "unknown";
      }
    }),
  );
  return {
    holders: nodes.filter((_, i) => answers[i] === "holder").map((n) => n.name),
    unknown: nodes.filter((_, i) => answers[i] === "unknown").map((n) => n.name),
  };
}
