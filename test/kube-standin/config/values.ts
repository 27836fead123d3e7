// Small value helpers shared by the config readers and the commands.
import os from "node:os";
import net from "node:net";

export const TOKEN_RE = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;

/** extraArgs in either shape: v1beta3 map, v1beta4 list of {name, value}. */
export function argsOf(x: unknown): Record<string, string> {
  if (Array.isArray(x)) return Object.fromEntries(x.map((a: { name: string; value: string }) => [a.name, a.value]));
  return (x as Record<string, string>) ?? {};
}

/** "host", "host:port", "[v6]:port" -> parts; null when malformed. */
export function splitHostPort(s: string): { host: string; port?: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\/\[\]]+))(?::(\d{1,5}))?$/.exec(s);
  if (!m) return null;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return null;
  return { host: m[1] ?? m[2]!, port };
}

/** What kubeadm picks when no advertise address is given: the first global IPv4 address. */
export function defaultAddress(): string {
  for (const addrs of Object.values(os.networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return "127.0.0.1";
}

export const isIp = (s: string) => net.isIP(s) !== 0;
