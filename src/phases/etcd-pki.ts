// Phase etcd-pki: the PKI of the external etcd cluster of section 四 of the seed (the reference kubeadm
// HA guide) and the ansible playbook it links, made here in TypeScript. The CA key stays in the installer
// state (replicated to every master), so any master issues from it. Members that are down (left out of
// an add-node or replace-node run) get their files when they are back and install runs again.
import { dirname } from "node:path";
import { controlPlanes } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import type { Phase, PhaseContext } from "./phase.ts";
import { etcdCaStatePaths, etcdStateCa, planEtcdPki, type EtcdPkiPlan } from "../pki/etcd-pki.ts";
import { writeStateCa } from "../cluster/state-ca.ts";
import { readEtcdPki } from "../cluster/etcd-certs.ts";
import { NOTHING, todo } from "./steps.ts";
import { sh } from "../util/sh.ts";
import { textOf } from "../util/text.ts";

async function hostFor(ctx: PhaseContext, node: string): Promise<Host> {
  return ctx.host(ctx.config.hosts.find((h) => h.name === node)!);
}

/** Files of the plan that differ from what the nodes hold. */
/** The plan's files for nodes that are up in this run (the state dir's always: it is here). */
const reachable = (ctx: PhaseContext, plan: EtcdPkiPlan) => plan.files.filter((f) => f.state || !ctx.down?.has(f.node));

async function pendingFiles(ctx: PhaseContext, plan: EtcdPkiPlan) {
  // Side by side: a node's reads go to it as one command (src/hosts/coalesce.ts).
  const files = reachable(ctx, plan);
  const differs = await Promise.all(
    files.map(async (f) => {
      const host = f.state ? ctx.local : await hostFor(ctx, f.node);
      return textOf(await host.readFile(f.path)) !== f.content;
    }),
  );
  return files.filter((_, i) => differs[i]);
}

export const etcdPki: Phase = {
  name: "etcd-pki",
  title: "Etcd PKI: CA (its key only in the installer state dir), server/peer certificates per member, apiserver and healthcheck clients",
  hosts: controlPlanes,
  mode: "local",
  async check(ctx) {
    const existing = await readEtcdPki(ctx);
    if (existing.unfinishedCa) return todo(`etcd-ca: finish the CA an interrupted run began (${etcdCaStatePaths(ctx.stateDir).pending})`);
    const plan = await planEtcdPki(ctx.config, existing);
    const pending = plan.changed ? reachable(ctx, plan) : await pendingFiles(ctx, plan);
    return pending.length ? todo(plan.actions.filter((a) => a.action === "issued").map((a) => `${a.id}: ${a.why}`).join(", ") || `${pending.length} file(s) to write`) : NOTHING;
  },
  async run(ctx) {
    // The CA first, whole (made, finished or kept): the plan below then only keeps it.
    const ca = await writeStateCa(ctx.local, etcdStateCa(ctx.config), new Date());
    if (ca.created) ctx.log.info(`    etcd-pki: issued etcd-ca (missing)`);
    const plan = await planEtcdPki(ctx.config, await readEtcdPki(ctx));
    for (const a of plan.actions) if (a.action === "issued") ctx.log.info(`    etcd-pki: issued ${a.id} (${a.why})`);
    // Directories per node ("" = master1's state dir, written locally).
    const files = reachable(ctx, plan);
    const dirs = new Map<string, Set<string>>();
    for (const f of files) {
      const key = f.state ? "" : f.node;
      if (!dirs.has(key)) dirs.set(key, new Set());
      dirs.get(key)!.add(dirname(f.path));
    }
    await Promise.all(
      [...dirs].map(async ([node, ds]) => {
        const host = node ? await hostFor(ctx, node) : ctx.local;
        await host.exec(sh`mkdir -p ${[...ds]} && chmod 700 ${`${ctx.stateDir}/pki`} 2>/dev/null; true`);
      }),
    );
    await Promise.all(
      files.map(async (f) => {
        const host = f.state ? ctx.local : await hostFor(ctx, f.node);
        await host.writeFile(f.path, f.content, { mode: f.mode });
      }),
    );
  },
};
