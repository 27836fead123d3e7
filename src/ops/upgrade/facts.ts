// The facts `upgrade plan` judges (plan.ts), read without changing anything: the new bundle and its
// verification against this binary's lock, the lock of the bundle the depot serves now, the cluster's
// version (kubeadm-config), its nodes, every etcd member's health and the certificates that expire
// within the upgrade window.
import { parse as parseYaml } from "yaml";
import type { PhaseContext } from "../../phases/phase.ts";
import { etcdMembers, type HostSpec } from "../../config/types.ts";
import { BundleError, LOCK_FILE, parseLock, readLock, type BundleLock } from "../../depot/lock.ts";
import { describeProblem, verifyBundle } from "../../depot/verify.ts";
import { DEPOT_BUNDLE_DIR, lockFingerprint } from "../../depot/bundle-copy.ts";
import { kubectl, nodeIsReady } from "../../cluster/kubectl.ts";
import { etcdHealthy } from "../../cluster/etcd.ts";
import { certNodes, expectedSans } from "../../pki/certlist.ts";
import { collectCerts } from "../../certs/index.ts";
import { reasonOn } from "../../hosts/host.ts";
import { sh } from "../../util/sh.ts";
import { UsageError } from "../../util/errors.ts";
import { NODE_STEPS, type CertFact, type EtcdFact, type NodeFact, type UpgradeFacts } from "./plan.ts";
import { readUpgradeState } from "./state.ts";

/** The new bundle's lock; a directory without one is bad input (exit 2). */
export function bundleLockOf(dir: string): BundleLock {
  try {
    return readLock(dir);
  } catch (e) {
    if (e instanceof BundleError) throw new UsageError(e.message, "pass the new bundle's directory with --bundle DIR");
    throw e;
  }
}

/** The lock of the bundle master1's depot serves now (its copy's lock.json), else the config's bundle directory's. */
export async function currentLock(ctx: Pick<PhaseContext, "local" | "config">): Promise<BundleLock | null> {
  const copy = await ctx.local.readFile(`${DEPOT_BUNDLE_DIR}/${LOCK_FILE}`).catch(() => null);
  if (copy) return parseLock(new TextDecoder().decode(copy), `${DEPOT_BUNDLE_DIR}/${LOCK_FILE}`);
  try {
    return readLock(ctx.config.bundle.dir);
  } catch {
    return null;
  }
}

/** kubeadm-config's kubernetesVersion: the version the control plane was last upgraded (or initialised) to. */
export async function clusterVersion(ctx: Pick<PhaseContext, "local">): Promise<string> {
  const cm = JSON.parse(await kubectl(ctx, sh`-n kube-system get configmap kubeadm-config -o json`)) as { data?: { ClusterConfiguration?: string } };
  const v = (parseYaml(cm.data?.ClusterConfiguration ?? "") as { kubernetesVersion?: unknown } | null)?.kubernetesVersion;
  if (typeof v !== "string") throw new Error("kubeadm-config has no ClusterConfiguration.kubernetesVersion");
  return v;
}

export async function nodeFacts(ctx: Pick<PhaseContext, "local">): Promise<NodeFact[]> {
  const list = JSON.parse(await kubectl(ctx, sh`get nodes -o json`)) as { items: any[] };
  return list.items.map((n) => ({ name: n.metadata.name, ready: nodeIsReady(n), kubelet: n.status?.nodeInfo?.kubeletVersion ?? "", unschedulable: n.spec?.unschedulable === true }));
}

/** Each member asked about itself, on its own node (the client key is there). */
export async function etcdFacts(ctx: Pick<PhaseContext, "config" | "host">): Promise<EtcdFact[]> {
  return Promise.all(
    etcdMembers(ctx.config).map(async (m: HostSpec) => {
      try {
        return { member: m.name, healthy: await etcdHealthy(await ctx.host(m), m) };
      } catch (e) {
        return { member: m.name, healthy: false, why: reasonOn(m.name, e) };
      }
    }),
  );
}

export async function expiringCerts(ctx: Pick<PhaseContext, "config" | "host">, windowDays: number, now = new Date()): Promise<CertFact[]> {
  const out: CertFact[] = [];
  for (const node of certNodes(ctx.config)) {
    // An unreachable node is not judged here: its etcd member (or its NotReady node) is refused already.
    const rows = await ctx.host(node).then((h) => collectCerts(h, node.roles, { now, warnDays: windowDays, expectSans: expectedSans(ctx.config, node) })).catch(() => []);
    for (const r of rows) if (r.residualDays !== null && r.residualDays < windowDays) out.push({ node: node.name, certificate: r.certificate, residualDays: r.residualDays });
  }
  return out;
}

/** Nodes with some but not all steps of an upgrade to this very bundle recorded (a run was stopped there). */
async function resumingNodes(ctx: PhaseContext, lock: BundleLock): Promise<string[]> {
  const state = await readUpgradeState(ctx);
  if (!state || state.bundle !== lockFingerprint(lock)) return [];
  return Object.entries(state.done).filter(([, steps]) => steps.length > 0 && steps.length < NODE_STEPS.length).map(([node]) => node);
}

/** Everything plan.ts needs; the cluster's answers that fail become facts (refusals), not exceptions. */
export async function gatherFacts(ctx: PhaseContext, bundleDir: string, windowDays: number): Promise<UpgradeFacts> {
  const bundleLock = bundleLockOf(bundleDir);
  const verified = ctx.lock ? await verifyBundle(bundleDir, ctx.lock) : { problems: [] };
  let version: string | null = null;
  let clusterError: string | undefined;
  let nodes: NodeFact[] = [];
  try {
    version = await clusterVersion(ctx);
    nodes = await nodeFacts(ctx);
  } catch (e) {
    clusterError = (e as Error).message.split("\n")[0];
  }
  return {
    config: ctx.config,
    bundleLock,
    bundleDir,
    embedded: ctx.lock,
    bundleProblems: verified.problems.map(describeProblem),
    currentLock: await currentLock(ctx),
    clusterVersion: version,
    clusterError,
    nodes,
    etcd: await etcdFacts(ctx),
    expiring: await expiringCerts(ctx, windowDays),
    windowDays,
    resuming: await resumingNodes(ctx, bundleLock),
  };
}
