// `remove-node NAME`: drain and delete the Kubernetes node, reset it, and say what to change in
// cluster.yaml. Never removes an etcd member (that would risk quorum) or master1.
import { invokedAs } from "../invoked.ts";
import { openChangingSession, confirm } from "../context.ts";
import { readConfig } from "../run-inputs.ts";
import { UsageError, InstallError } from "../../util/errors.ts";
import { hasRole, firstMaster } from "../../config/types.ts";
import { drainAndDeleteNode } from "../../cluster/node-removal.ts";
import type { GlobalFlags } from "../flags.ts";
import { sh } from "../../util/sh.ts";

export default async function removeNode(name: string, flags: GlobalFlags): Promise<number> {
  const config = readConfig(flags);
  const spec = config.hosts.find((h) => h.name === name);
  if (!spec) throw new UsageError(`${name} is not in ${config.source}`, "remove-node takes a host of the config; it is removed from the file after this command");
  if (spec.name === firstMaster(config).name) throw new UsageError(`${name} is the first control-plane node, where the installer runs: it holds the installer's state and the depot`);
  if (hasRole(spec, "etcd"))
    throw new UsageError(`${name} is an etcd member; removing it would shrink the etcd cluster below its configured size`, "etcd membership changes are not automated");
  if (flags.dryRun) {
    console.log(`would drain and delete node ${name}, then kubeadm reset -f on ${spec.address}`);
    return 0;
  }
  await confirm(`Drain ${name}, delete it from the cluster and reset it?`, flags);
  const session = await openChangingSession(config, flags, "remove-node");
  try {
    const { ctx } = session;
    if (await drainAndDeleteNode(ctx, name)) console.log(`${name}: drained and deleted from the cluster`);
    else console.log(`${name}: not a node of the cluster (already deleted)`);
    const host = await ctx.host(spec);
    const r = await host.exec(sh`kubeadm reset -f && systemctl disable --now kubelet && rm -rf /etc/kubernetes /var/lib/kubelet /etc/cni/net.d`, { check: false, timeoutMs: 180_000 });
    if (r.code !== 0) throw new InstallError(`${name}: reset failed: ${(r.stderr || r.stdout).trim()}`);
    console.log(`${name}: reset (kubelet stopped, /etc/kubernetes removed)`);
    console.log(`next: remove ${name} from ${config.source}, then run \`${invokedAs()} install --only os${hasRole(spec, "control-plane") ? ",lb" : ""}\` to refresh /etc/hosts${hasRole(spec, "control-plane") ? " and the haproxy backends" : ""}`);
    return 0;
  } finally {
    await session.close();
  }
}
