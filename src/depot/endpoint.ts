// Where the depot listens and where the nodes reach it: one value {address, port}, and one function
// each for the two ways it is written out (a URL for the nodes, ADDR:PORT for registries and
// `serve --listen`). Nothing glues a URL together and takes it apart again.
import type { ClusterConfig } from "../config/types.ts";
import { firstMaster } from "../config/types.ts";
import { UsageError } from "../util/errors.ts";

export interface DepotEndpoint {
  /** IPv4 or IPv6 address (no brackets); 0.0.0.0 listens on every interface. */
  readonly address: string;
  readonly port: number;
}

/** depot.address (master1's address unless the config says otherwise) and depot.port. */
export function depotEndpoint(config: ClusterConfig): DepotEndpoint {
  return { address: config.depot.address ?? firstMaster(config).address, port: config.depot.port };
}

/** "ADDR:PORT" ("[v6]:PORT"), as containerd, docker and `serve --listen` take it. */
export function endpointHostPort(ep: DepotEndpoint): string {
  return `${ep.address.includes(":") ? `[${ep.address}]` : ep.address}:${ep.port}`;
}

/** Base URL of the depot as the nodes reach it (TLS only, issue 15), no trailing slash, e.g. https://192.168.217.19:5000 */
export function depotUrl(ep: DepotEndpoint): string {
  return `https://${endpointHostPort(ep)}`;
}

/** Reads "ADDR:PORT" or "[v6addr]:PORT" (the --listen flag). */
export function parseEndpoint(text: string): DepotEndpoint {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]\s]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new UsageError(`depot: listen address "${text}" is not ADDR:PORT`, "e.g. --listen 192.168.217.19:5000 or 0.0.0.0:5000");
  }
  return { address: (m[1] ?? m[2])!, port };
}
