// `kubeconfig`: the admin kubeconfig of the cluster, pointed at the VIP (https://VIP:PORT through
// haproxy) instead of the one master kubeadm wrote it on, printed for the operator to redirect.
import { openSession } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { firstMaster } from "../../config/types.ts";
import { ADMIN_CONF } from "../../cluster/endpoints.ts";
import { InstallError } from "../../util/errors.ts";
import type { GlobalFlags } from "../flags.ts";

/** Every cluster's `server:` set to `endpoint`; the rest (CA, client certificate and key) kept byte for byte. */
export function rewriteKubeconfigServer(text: string, endpoint: string): string {
  if (!/^\s*server:/m.test(text)) throw new InstallError(`${ADMIN_CONF} has no "server:" line: is it a kubeconfig?`);
  return text.replace(/^(\s*server:\s*)\S.*$/gm, `$1${endpoint}`);
}

export default async function kubeconfig(flags: GlobalFlags): Promise<number> {
  const config = readConfig(flags);
  const session = openSession(config, flags, "kubeconfig");
  try {
    const master = firstMaster(config);
    const host = await session.ctx.host(master);
    const bytes = await host.readFile(ADMIN_CONF).catch((e: unknown) => {
      throw new InstallError(`cannot read ${ADMIN_CONF} on ${master.name}: ${e instanceof Error ? e.message : String(e)} (run as root, on master1)`);
    });
    if (!bytes) throw new InstallError(`${master.name} has no ${ADMIN_CONF}: the cluster is not installed yet (run install first)`);
    const endpoint = `https://${config.loadBalancer.vip}:${config.loadBalancer.port}`;
    process.stdout.write(rewriteKubeconfigServer(new TextDecoder().decode(bytes), endpoint));
    // It carries the cluster-admin key: said on stderr, so the redirected file stays a clean kubeconfig.
    if (process.stdout.isTTY) process.stderr.write("(this holds the cluster-admin key: redirect it to a file with mode 0600)\n");
    else process.stderr.write(`admin kubeconfig for ${endpoint} written to stdout; it holds the cluster-admin key: chmod 600 the file\n`);
    return 0;
  } finally {
    await session.close();
  }
}
