// `upgrade apply`: the cluster moved to the new bundle, resumable after a kill at any point.
//  1. every master's depot keeps its current copy beside it (bundle.previous) and then serves the new
//     bundle; the binary is replaced on every node; packages and the runtime follow the new lock and
//     every node pulls the new images by digest (the install's own phases: each checks before it acts);
//  2. etcd, when its tarball changed: one member at a time, the whole cluster healthy before and after;
//  3. control planes one at a time: kubeadm → `kubeadm upgrade apply vX` (first) / `upgrade node` →
//     drain → kubelet and kubectl → kubelet restart, Ready at vX → uncordon;
//  4. workers the same way, --max-unavailable at a time;
//  5. cluster.yaml names the new version and bundle.
// Each node step is recorded in <stateDir>/upgrade.json (replicated to every master with the rest of
// the state) once it finished, so a re-run starts with the first step not recorded; the steps are
// safe to repeat when a kill came in the middle of one (kubeadm upgrade of the same version, drain,
// install of a tarball, restart, uncordon).
import { readFileSync, renameSync, writeFileSync, statSync } from "node:fs";
import { dirname, relative, isAbsolute } from "node:path";
import { parseDocument } from "yaml";
import type { PhaseContext, Phase } from "../../phases/phase.ts";
import type { HostSpec } from "../../config/types.ts";
import { controlPlanes, etcdMembers, hasRole, workers } from "../../config/types.ts";
import type { Host } from "../../hosts/host.ts";
import { runPhases, type PhaseProgress } from "../../phases/runner.ts";
import { binary } from "../../phases/binary.ts";
import { depot } from "../../phases/depot.ts";
import { packages } from "../../phases/packages.ts";
import { runtime } from "../../phases/runtime.ts";
import { etcd, etcdTarball } from "../../phases/etcd.ts";
import { installKubeBinaries, kubeTarball } from "../../phases/kube-binaries.ts";
import { installTarball, tarballInstalled } from "../../phases/util/tarball.ts";
import { pinNodeImages } from "../../phases/util/images.ts";
import { kubeadm } from "../../phases/util/kubeadm.ts";
import { etcdHealthy } from "../../cluster/etcd.ts";
import { ensureService } from "../../cluster/systemd.ts";
import { kubectl } from "../../cluster/kubectl.ts";
import { readyAt, waitFor } from "../../cluster/wait.ts";
import { vipUrl } from "../../cluster/endpoints.ts";
import { DEPOT_BUNDLE_DIR, lockFingerprint } from "../../depot/bundle-copy.ts";
import { LOCK_FILE, parseLock } from "../../depot/lock.ts";
import { sh } from "../../util/sh.ts";
import { InstallError, errorText } from "../../util/errors.ts";
import { nodeFacts } from "./facts.ts";
import { batches, NODE_STEPS, type NodeStep, type UpgradePlan } from "./plan.ts";
import { readUpgradeState, statePath, type UpgradeState } from "./state.ts";

/** Where each master keeps the copy its depot served before the upgrade (hard links: no second copy of the bytes). */
export const PREVIOUS_BUNDLE_DIR = `${DEPOT_BUNDLE_DIR}.previous`;

export interface ApplyOptions {
  plan: UpgradePlan;
  maxUnavailable: number;
  concurrency: number;
  progress: PhaseProgress;
  /** Copies the state dir to the other masters (openChangingSession's replicate). */
  replicate: () => Promise<void>;
  /** The operator's cluster.yaml: rewritten with the new version and bundle at the end. */
  configFile: string;
}

/** The upgrade's record: one writer at a time (workers of a batch finish together), written 0600 and replicated. */
export class UpgradeRecord {
  private chain: Promise<void> = Promise.resolve();
  constructor(private readonly ctx: PhaseContext, readonly state: UpgradeState, private readonly replicate: () => Promise<void>) {}
  has(node: string, step: NodeStep) {
    return (this.state.done[node] ?? []).includes(step);
  }
  mark(node: string, step: NodeStep): Promise<void> {
    (this.state.done[node] ??= []).push(step);
    return this.save();
  }
  save(): Promise<void> {
    const turn = this.chain.then(async () => {
      await this.ctx.local.exec(sh`umask 077 && mkdir -p ${this.ctx.stateDir}`);
      await this.ctx.local.writeFile(statePath(this.ctx), JSON.stringify(this.state, null, 2) + "\n", { mode: 0o600 });
      await this.replicate();
    });
    this.chain = turn.catch(() => undefined);
    return turn;
  }
}

/** The copy each master's depot serves now, kept as bundle.previous before the new one replaces it (unless it already is the new one). */
export async function keepPreviousCopy(ctx: PhaseContext, node: HostSpec): Promise<void> {
  const host = await ctx.host(node);
  const lock = await host.readFile(`${DEPOT_BUNDLE_DIR}/${LOCK_FILE}`);
  if (!lock) return;
  const served = parseLock(new TextDecoder().decode(lock), `${node.name}:${DEPOT_BUNDLE_DIR}/${LOCK_FILE}`);
  if (lockFingerprint(served) === lockFingerprint(ctx.lock!)) return;
  // Already kept by a run that was stopped while the copy was being replaced (its lock.json is written last).
  const kept = await host.readFile(`${PREVIOUS_BUNDLE_DIR}/${LOCK_FILE}`);
  if (kept && new TextDecoder().decode(kept) === new TextDecoder().decode(lock)) return;
  // cp -al: hard links; the depot phase replaces payloads by rename, which leaves these untouched. lock.json,
  // written in place, is copied.
  const tmp = `${PREVIOUS_BUNDLE_DIR}.tmp`;
  await host.exec(sh`rm -rf ${tmp} && cp -al ${DEPOT_BUNDLE_DIR} ${tmp} && cp --remove-destination ${DEPOT_BUNDLE_DIR}/${LOCK_FILE} ${tmp}/${LOCK_FILE} && rm -rf ${PREVIOUS_BUNDLE_DIR} && mv ${tmp} ${PREVIOUS_BUNDLE_DIR}`);
  ctx.log.info(`    ${node.name}: the depot's previous bundle kept in ${PREVIOUS_BUNDLE_DIR}`);
}

/** etcd, one member at a time: the cluster healthy before each, the member on its new binary and the cluster healthy after. */
async function rollEtcd(ctx: PhaseContext): Promise<void> {
  const tgz = etcdTarball(ctx);
  for (const m of etcdMembers(ctx.config)) {
    const host = await ctx.host(m);
    if (await tarballInstalled(host, "etcd", tgz)) continue;
    if (!(await etcdHealthy(host, m, true))) throw new InstallError(`etcd is not healthy as a cluster before upgrading ${m.name}: not restarting a member without quorum to spare; bring every member back, then run upgrade apply again`);
    ctx.log.info(`  etcd ${m.name}: ${tgz.path}`);
    await etcd.run(ctx, m);
    await ensureService(host, "etcd.service", "restart");
    await waitFor(`etcd cluster health after upgrading ${m.name}`, () => etcdHealthy(host, m, true), 120_000, 1000);
  }
}

async function kubeletAt(ctx: PhaseContext, node: string, version: string): Promise<boolean> {
  const n = (await nodeFacts(ctx)).find((x) => x.name === node);
  return !!n && n.ready && n.kubelet === version;
}

/** The five steps of one node (see NODE_STEPS), each skipped when recorded as done. */
export async function upgradeNode(ctx: PhaseContext, rec: UpgradeRecord, node: HostSpec, first: boolean, to: string): Promise<void> {
  const host: Host = await ctx.host(node);
  const tgz = kubeTarball(ctx);
  if (!tgz) throw new InstallError(`the ${ctx.lock!.profile} bundle has no Kubernetes tarball; this profile's kubeadm/kubelet come as packages, which upgrade does not handle yet`);
  const steps: Record<NodeStep, () => Promise<void>> = {
    kubeadm: async () => {
      if (!(await tarballInstalled(host, "kubernetes", tgz)) && !(await tarballInstalled(host, "kubeadm", tgz)))
        await installTarball(host, ctx, "kubeadm", tgz, installKubeBinaries(["kubeadm"]));
    },
    "kubeadm-upgrade": async () => {
      await pinNodeImages(ctx, host, node); // kubeadm's preflight finds the new images present, pinned to the lock
      await kubeadm(host, first ? sh`upgrade apply ${to} --yes` : sh`upgrade node`, [], 900_000);
      if (hasRole(node, "control-plane"))
        await waitFor(`the API through the VIP after upgrading ${node.name}`, () => readyAt(ctx.local, vipUrl(ctx)), 120_000, 1000);
    },
    drain: async () => {
      await kubectl(ctx, sh`drain ${node.name} --ignore-daemonsets --delete-emptydir-data --timeout=120s`, 180_000);
    },
    kubelet: async () => {
      if (!(await tarballInstalled(host, "kubernetes", tgz))) await installTarball(host, ctx, "kubernetes", tgz, installKubeBinaries());
      if (await kubeletAt(ctx, node.name, to)) return;
      await ensureService(host, "kubelet.service", "restart");
      await waitFor(`${node.name} Ready with kubelet ${to}`, () => kubeletAt(ctx, node.name, to).catch(() => false), 180_000, 2000);
    },
    uncordon: async () => {
      await kubectl(ctx, sh`uncordon ${node.name}`);
    },
  };
  for (const step of NODE_STEPS) {
    if (rec.has(node.name, step)) continue;
    ctx.log.info(`  ${node.name}: ${step}${step === "kubeadm-upgrade" ? (first ? ` (kubeadm upgrade apply ${to})` : " (kubeadm upgrade node)") : ""}`);
    try {
      await steps[step]();
    } catch (e) {
      throw new InstallError(`upgrade stopped on ${node.name} at "${step}": ${errorText(e)}\nFix the cause and run upgrade apply again: it resumes there.`);
    }
    await rec.mark(node.name, step);
  }
}

/** cluster.yaml names the new Kubernetes version and bundle directory (relative to the file, as written by hand); comments kept. */
export function rewriteConfig(configFile: string, version: string, bundleDir: string): boolean {
  const text = readFileSync(configFile, "utf8");
  const doc = parseDocument(text);
  const rel = relative(dirname(configFile), bundleDir);
  doc.setIn(["kubernetes", "version"], version.replace(/^v/, ""));
  doc.setIn(["bundle", "dir"], isAbsolute(rel) || rel.startsWith("..") ? bundleDir : `./${rel}`);
  const out = doc.toString();
  if (out === text) return false;
  const tmp = `${configFile}.tmp-upgrade`;
  writeFileSync(tmp, out, { mode: statSync(configFile).mode & 0o777 });
  renameSync(tmp, configFile);
  return true;
}

export async function applyUpgrade(ctx: PhaseContext, o: ApplyOptions): Promise<void> {
  const { plan } = o;
  const to = plan.to;
  const fingerprint = lockFingerprint(ctx.lock!);
  const prior = await readUpgradeState(ctx);
  const state: UpgradeState = prior && prior.to === to && prior.bundle === fingerprint ? { ...prior, finished: undefined } : { to, bundle: fingerprint, done: {} };
  if (prior && !prior.finished && prior.to === to && prior.bundle === fingerprint) ctx.log.info(`resuming the upgrade to ${to}: ${Object.entries(state.done).map(([n, s]) => `${n} ${s.at(-1)}`).join(", ") || "no node step finished yet"}`);
  const rec = new UpgradeRecord(ctx, state, o.replicate);
  await rec.save();

  ctx.log.info("1. the new bundle on every master's depot, the binary on every node, packages, runtime and images");
  for (const m of controlPlanes(ctx.config)) await keepPreviousCopy(ctx, m);
  const phases: Phase[] = [binary, depot, packages, runtime];
  await runPhases(phases, ctx, { concurrency: o.concurrency }, o.progress, async () => o.replicate());

  ctx.log.info("2. etcd");
  await rollEtcd(ctx);

  ctx.log.info("3. control planes, one at a time");
  const cps = controlPlanes(ctx.config);
  for (const [i, cp] of cps.entries()) await upgradeNode(ctx, rec, cp, i === 0, to);

  ctx.log.info(`4. workers, ${o.maxUnavailable} at a time`);
  const ws = workers(ctx.config).filter((h) => !hasRole(h, "control-plane"));
  for (const batch of batches(ws, o.maxUnavailable)) {
    // Every node of a batch finishes (or stops) before the run stops: one failure never hides another.
    const results = await Promise.allSettled(batch.map((w) => upgradeNode(ctx, rec, w, false, to)));
    const failed = results.flatMap((r) => (r.status === "rejected" ? [errorText(r.reason)] : []));
    if (failed.length) throw new InstallError(failed.join("\n"));
  }

  ctx.log.info("5. cluster.yaml");
  if (rewriteConfig(o.configFile, to, ctx.bundleDir)) ctx.log.info(`  ${o.configFile}: kubernetes.version ${to.replace(/^v/, "")}, bundle.dir ${ctx.bundleDir}`);
  state.finished = new Date().toISOString();
  await rec.save();
}
