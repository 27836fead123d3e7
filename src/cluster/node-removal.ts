// Taking a node out of Kubernetes: drain it and delete its Node object before it is reset (remove-node,
// reset --node), or only delete the object of a node that is dead (replace-node: nothing to drain).
import type { Host } from "../hosts/host.ts";
import { sh } from "../util/sh.ts";
import { kubectl, nodeIsReady } from "./kubectl.ts";

const knownNode = async (ctx: { local: Host }, name: string) => (await kubectl(ctx, sh`get nodes -o name`)).split("\n").includes(`node/${name}`);

/** Drains and deletes `name`; says whether it was a node of the cluster. */
export async function drainAndDeleteNode(ctx: { local: Host }, name: string): Promise<boolean> {
  if (!(await knownNode(ctx, name))) return false;
  await kubectl(ctx, sh`drain ${name} --ignore-daemonsets --delete-emptydir-data --force --timeout=120s`, 180_000);
  await kubectl(ctx, sh`delete node ${name}`);
  return true;
}

/** Deletes the Node object of a node that is gone (its pods are rescheduled by the controllers); says whether there was one. */
export async function deleteNodeObject(ctx: { local: Host }, name: string): Promise<boolean> {
  if (!(await knownNode(ctx, name))) return false;
  await kubectl(ctx, sh`delete node ${name}`);
  return true;
}

/** Whether the Node `name` exists and is Ready. */
export async function nodeReady(ctx: { local: Host }, name: string): Promise<boolean> {
  const list = JSON.parse(await kubectl(ctx, sh`get nodes -o json`)) as { items: { metadata: { name: string } }[] };
  const n = list.items.find((i) => i.metadata.name === name);
  return n !== undefined && nodeIsReady(n);
}
