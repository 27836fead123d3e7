// Taking a node out of Kubernetes before it is reset: drain it, then delete its Node object.
// remove-node and reset --node share it.
import type { Host } from "../hosts/host.ts";
import { sh } from "../util/sh.ts";
import { kubectl } from "./kubectl.ts";

/** Drains and deletes `name`; says whether it was a node of the cluster. */
export async function drainAndDeleteNode(ctx: { local: Host }, name: string): Promise<boolean> {
  const known = (await kubectl(ctx, sh`get nodes -o name`)).split("\n").includes(`node/${name}`);
  if (!known) return false;
  await kubectl(ctx, sh`drain ${name} --ignore-daemonsets --delete-emptydir-data --force --timeout=120s`, 180_000);
  await kubectl(ctx, sh`delete node ${name}`);
  return true;
}
