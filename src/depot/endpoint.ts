// Where the depot listens and where the nodes reach it: one value {address, port}, and one function
// each for the two ways it is written out (a URL for the nodes, ADDR:PORT for registries and
// `serve --listen`). Nothing glues a URL together and takes it apart again.
import type { ClusterConfig } from "../config/types.ts";
import { controlPlanes, firstMaster } from "../config/types.ts";
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

/** A depot and the control-plane node that runs it. */
export interface NodeDepot {
  readonly node: string;
  readonly endpoint: DepotEndpoint;
}

/**
 * Every depot of the cluster (issue 16: one on each control-plane node, so losing any master loses no
 * image, package or file): master1's at depot.address first, then the other masters at their own
 * addresses, in config order.
 */
export function allDepots(config: ClusterConfig): NodeDepot[] {
  const [master1, ...others] = controlPlanes(config);
  return [
    { node: master1!.name, endpoint: depotEndpoint(config) },
    ...others.map((h) => ({ node: h.name, endpoint: { address: h.address, port: config.depot.port } })),
  ];
}

/**
 * The depots in the order `node` tries them: its own first when it runs one (no network hop, and it keeps
 * working when the node is cut off from the others), then master1's (where image names point), then the
 * other masters in config order — the same order on every node, so what one node does, all do.
 */
export function depotsFor(config: ClusterConfig, node?: string): DepotEndpoint[] {
  const all = allDepots(config);
  const own = all.findIndex((d) => d.node === node);
  return (own > 0 ? [all[own]!, ...all.filter((_, i) => i !== own)] : all).map((d) => d.endpoint);
}

/** The depot that `node` itself runs (undefined for a worker). */
export function ownDepot(config: ClusterConfig, node: string): DepotEndpoint | undefined {
  return allDepots(config).find((d) => d.node === node)?.endpoint;
}
