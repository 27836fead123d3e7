// Phase etcd-pki: the PKI of the external etcd cluster of section 四 of the seed (the reference kubeadm
// HA guide) and the ansible playbook it links, made here in TypeScript. The CA key stays on master1.
import { dirname } from "node:path";
import { firstMaster } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import type { Phase, PhaseContext } from "./phase.ts";
import { planEtcdPki, type EtcdPkiPlan } from "../pki/etcd-pki.ts";
import { readEtcdPki } from "../cluster/etcd-certs.ts";
import { NOTHING, todo } from "./steps.ts";
import { sh } from "../util/sh.ts";

const decode = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : undefined);

async function hostFor(ctx: PhaseContext, node: string): Promise<Host> {
  return ctx.host(ctx.config.hosts.find((h) => h.name === node)!);
}

/** Files of the plan that differ from what the nodes hold. */
async function pendingFiles(ctx: PhaseContext, plan: EtcdPkiPlan) {
  const out = [];
  for (const f of plan.files) {
    const host = f.state ? ctx.local : await hostFor(ctx, f.node);
    if (decode(await host.readFile(f.path)) !== f.content) out.push(f);
  }
  return out;
}

export const etcdPki: Phase = {
  name: "etcd-pki",
  title: "Etcd PKI: CA (its key only in the installer state dir), server/peer certificates per member, apiserver and healthcheck clients",
  hosts: (c) => [firstMaster(c)],
  mode: "once",
  async check(ctx) {
    const plan = await planEtcdPki(ctx.config, await readEtcdPki(ctx));
    const pending = plan.changed ? plan.files : await pendingFiles(ctx, plan);
    return pending.length ? todo(plan.actions.filter((a) => a.action === "issued").map((a) => `${a.id}: ${a.why}`).join(", ") || `${pending.length} file(s) to write`) : NOTHING;
  },
  async run(ctx) {
    const plan = await planEtcdPki(ctx.config, await readEtcdPki(ctx));
    for (const a of plan.actions) if (a.action === "issued") ctx.log.info(`    etcd-pki: issued ${a.id} (${a.why})`);
    // Directories per node ("" = master1's state dir, written locally).
    const dirs = new Map<string, Set<string>>();
    for (const f of plan.files) {
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
      plan.files.map(async (f) => {
        const host = f.state ? ctx.local : await hostFor(ctx, f.node);
        await host.writeFile(f.path, f.content, { mode: f.mode });
      }),
    );
  },
};
