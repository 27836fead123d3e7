// The binary copies itself to a node only when the node's copy differs, so node-side work can
// run as `k8s-ha-offline agent ...` with exactly this build.
import type { Host } from "./host.ts";
import { shq } from "./shell-quote.ts";
import { localFileSha256 } from "./shell-host.ts";

export const NODE_BINARY_PATH = "/usr/local/bin/k8s-ha-offline";

/** sha256 of an executable file on the node, or null when it is missing or not executable. */
export async function remoteExecutableSha256(host: Host, path: string): Promise<string | null> {
  const r = await host.exec(`test -f ${shq(path)} && test -x ${shq(path)} && sha256sum < ${shq(path)}`, { check: false });
  return r.code === 0 ? (r.stdout.split(" ")[0] ?? null) : null;
}

/** Uploads the binary (mode 0755) unless the node already has this exact build; returns whether it uploaded. */
export async function ensureBinaryOnHost(host: Host, localBinaryPath: string, remotePath = NODE_BINARY_PATH): Promise<boolean> {
  const [want, have] = await Promise.all([localFileSha256(host.name, localBinaryPath), remoteExecutableSha256(host, remotePath)]);
  if (want === have) return false;
  await host.upload(localBinaryPath, remotePath, { mode: 0o755 });
  return true;
}
