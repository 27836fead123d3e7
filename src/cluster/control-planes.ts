// Which masters hold a Kubernetes control plane (kubeadm's admin.conf). A master without one, run on
// while another master has one, is a wiped or never-joined master of an existing cluster: it must be
// joined from a master that has one, never initialised again (a second `kubeadm init` makes a new CA
// and a second cluster on the same etcd).
import { controlPlanes } from "../config/types.ts";
import { sh } from "../util/sh.ts";
import type { ClusterAccess } from "./access.ts";
import { ADMIN_CONF } from "./endpoints.ts";

/** The other control-plane nodes (those not left out as down) whose admin.conf exists, asked over SSH. */
export async function othersWithControlPlane(ctx: ClusterAccess): Promise<string[]> {
  const others = controlPlanes(ctx.config).filter((m) => m.name !== ctx.local.name && !ctx.down?.has(m.name));
  const has = await Promise.all(
    others.map(async (m) => {
      try {
        return (await (await ctx.host(m)).exec(sh`test -f ${ADMIN_CONF}`, { check: false })).code === 0;
      } catch {
        return false; // unreachable: it cannot tell, and cannot be joined from either
      }
    }),
  );
  return others.filter((_, i) => has[i]).map((m) => m.name);
}

/** Why this run must not go on here: this master has no control plane while others do (undefined: fine). */
export async function withoutControlPlaneHere(ctx: ClusterAccess): Promise<string | undefined> {
  if (!controlPlanes(ctx.config).some((m) => m.name === ctx.local.name)) return undefined;
  if (await ctx.local.readFile(ADMIN_CONF)) return undefined;
  const others = await othersWithControlPlane(ctx);
  if (!others.length) return undefined;
  return `${ctx.local.name} has no control plane (no ${ADMIN_CONF}) while ${others.join(", ")} ${others.length > 1 ? "have" : "has"} one: the cluster exists, and ${ctx.local.name} is joined to it from a master that has one, never initialised again`;
}
