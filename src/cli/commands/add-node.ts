// `add-node NAME`: the node is first written into cluster.yaml by the operator; then the same
// idempotent phases as install run — every existing node reports "nothing to do" except where the
// new one matters (/etc/hosts everywhere, haproxy backends for a control-plane node).
import { readConfig } from "../run-inputs.ts";
import { UsageError } from "../../util/errors.ts";
import { hasRole, controlPlanes } from "../../config/types.ts";
import install from "./install.ts";
import type { GlobalFlags } from "../flags.ts";

export default async function addNode(name: string, flags: GlobalFlags & { role?: string; bundle?: string }): Promise<number> {
  const config = readConfig(flags);
  const spec = config.hosts.find((h) => h.name === name);
  if (!spec)
    throw new UsageError(`${name} is not in ${config.source}`, `add it under hosts: (name, address, roles) first, then run add-node ${name}`);
  if (flags.role && !spec.roles.includes(flags.role as never))
    throw new UsageError(`${name} has roles ${spec.roles.join(", ")} in ${config.source}, not ${flags.role}`, "make --role match the config, or leave it out");
  if (spec.name === controlPlanes(config)[0]!.name) throw new UsageError(`${name} is the first control-plane node, where the cluster is installed from; it cannot be added`);
  if (hasRole(spec, "etcd"))
    throw new UsageError(
      `${name} would be a new etcd member; changing etcd membership is not automated (it needs etcdctl member add before the member starts)`,
      "add it as a worker or a control-plane node without the etcd role (give the etcd role explicitly to the existing members)",
    );
  console.log(`adding ${name} (${spec.address}, ${spec.roles.join(", ")}): every phase runs; existing nodes report nothing to do`);
  // A master (master1 included) that is down does not stop a worker from joining: it is left out.
  return install(flags, { command: "add-node", leaveOutDown: { mustReach: [name] } });
}
