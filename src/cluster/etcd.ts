// etcdctl against one member over TLS with the healthcheck client certificate, as installed on every
// etcd node; its health answer; and the reason out of its output when it fails.
import type { Host } from "../hosts/host.ts";
import { ETCD_PKI_DIR } from "../pki/etcd-pki.ts";
import { sh, type ShellCommand } from "../util/sh.ts";
import { etcdClientUrl } from "./endpoints.ts";

/** Seconds etcdctl waits for a connection to a member (also how long a TCP probe before it may take). */
export const ETCDCTL_DIAL_TIMEOUT_S = 3;

/** TLS with the CA and the healthcheck client certificate every etcd node holds; short timeouts so a dead member answers fast. */
const CLIENT_FLAGS = sh`--cacert=${ETCD_PKI_DIR}/ca.crt --cert=${ETCD_PKI_DIR}/healthcheck-client.crt --key=${ETCD_PKI_DIR}/healthcheck-client.key ${`--dial-timeout=${ETCDCTL_DIAL_TIMEOUT_S}s`} --command-timeout=5s`;

/** etcdctl with these arguments against these client URLs (run it on an etcd node: the client key is there). */
export const etcdctlAt = (endpoints: readonly string[], args: ShellCommand): ShellCommand =>
  sh`ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=${endpoints.join(",")} ${CLIENT_FLAGS} ${args}`;

/** etcdctl with these arguments against the member at node.address (run it on an etcd node: the client key is there). */
export const etcdctl = (node: { address: string }, args: ShellCommand): ShellCommand => etcdctlAt([etcdClientUrl(node)], args);

/** The member answers healthy; with `cluster`, every member of the cluster does. */
export const etcdHealthy = async (host: Host, node: { address: string }, cluster = false) =>
  (await host.exec(etcdctl(node, cluster ? sh`endpoint health --cluster` : sh`endpoint health`), { check: false, timeoutMs: 20_000 })).code === 0;

/**
 * The reason in etcdctl's output: its "<endpoint> is unhealthy: <why>" line, else the error of its
 * JSON warnings (gRPC retry logs), else the first line that is not a log record.
 */
export function etcdctlError(output: string): string | undefined {
  const lines = output.split("\n").map((l) => l.trim()).filter(Boolean);
  const verdict = lines.map((l) => /\bis unhealthy: (.+)$/.exec(l)?.[1]).find(Boolean);
  if (verdict) return verdict;
  for (const l of lines.filter((x) => x.startsWith("{")))
    try {
      const e = (JSON.parse(l) as { error?: unknown }).error;
      if (typeof e === "string" && e) return e;
    } catch {
      // not a log record
    }
  return lines.find((l) => !l.startsWith("{"));
}
