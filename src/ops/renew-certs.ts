// renew-certs: back up every certificate, then renew the etcd certificates member by member (in place,
// only while the etcd cluster is healthy) and the Kubernetes ones master by master (a control plane is
// restarted only while another master serves), so a renewal never costs quorum or the API. The first
// failure stops everything and names the backup.
import { backedUpPaths, certNodes, globWords, readByEtcd } from "../pki/certlist.ts";
import { sh } from "../util/sh.ts";
import { ETCD_CLIENT_PORT } from "../config/ports.ts";
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import { controlPlanes, etcdMembers } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import type { PhaseContext } from "../phases/phase.ts";
import { planEtcdPki, type PlannedFile } from "../pki/etcd-pki.ts";
import { readEtcdPki } from "../cluster/etcd-certs.ts";
import { etcdHealthy } from "../cluster/etcd.ts";
import { apiserverUrl, vipUrl } from "../cluster/endpoints.ts";
import { readyAt, waitFor } from "../cluster/wait.ts";
import { InstallError, errorText } from "../util/errors.ts";

export interface RenewScope {
  etcd: boolean;
  kubernetes: boolean;
}

/** What is copied from each node before anything changes (relative to /, shell globs allowed): see the certificate table. */
export const BACKED_UP = backedUpPaths();

const MANIFESTS = "/etc/kubernetes/manifests";
/** Outside the manifests directory, so the kubelet stops the pods while their manifests sit here. */
export const PARKED_MANIFESTS = "/etc/kubernetes/manifests-parked-by-k8s-ha-offline";
const CONTROL_PLANE_PODS = ["kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"];

export const backupDirFor = (stateDir: string, now: Date) => `${stateDir}/backup/certs-${now.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-")}`;

/** Stopped part-way: says at which step, why, and where the certificates from before are. */
export class RenewStopped extends InstallError {
  constructor(readonly step: string, cause: unknown, readonly backupDir: string, done: readonly string[]) {
    super(
      `renew-certs stopped at "${step}": ${errorText(cause)}\n` +
        (done.length ? `Done before that: ${done.join("; ")}.\n` : "Nothing was changed on the nodes.\n") +
        `The certificates from before are in ${backupDir}/<node>/ on this machine (same paths as on the node). ` +
        `Fix the cause and run renew-certs again, or copy them back and restart the control plane and etcd.`,
    );
    this.name = "RenewStopped";
  }
}

/**
 * Copies each node's certificates, kubeconfigs and etcd PKI to `<dir>/<node>/...` on this machine
 * (one tar per node, modes kept, directory 0700). Returns the number of files per node.
 */
export async function backupCerts(ctx: Pick<PhaseContext, "host" | "local">, nodes: readonly HostSpec[], dir: string): Promise<Record<string, number>> {
  await ctx.local.exec(sh`umask 077 && mkdir -p ${dir} && chmod 700 ${dir} ${dir.replace(/\/[^/]+$/, "")}`);
  const pack = sh`cd / && set -- && for p in ${globWords(BACKED_UP)}; do [ -e "$p" ] && set -- "$@" "$p"; done; [ $# -eq 0 ] || tar -czf - "$@" | base64 -w0`;
  const counts: Record<string, number> = {};
  await Promise.all(
    nodes.map(async (node) => {
      const host = await ctx.host(node);
      const packed = (await host.exec(pack, { secret: true, timeoutMs: 120_000 })).stdout.trim();
      const into = `${dir}/${node.name}`;
      await ctx.local.exec(sh`umask 077 && mkdir -p ${into}`);
      if (packed) await ctx.local.exec(sh`tar -xzf - -C ${into}`, { stdin: Buffer.from(packed, "base64") });
      counts[node.name] = Number((await ctx.local.exec(sh`find ${into} -type f | wc -l`)).stdout.trim());
    }),
  );
  return counts;
}

/** What renew-certs will do, in order (for --dry-run and the confirmation question). */
export function describeRenewal(config: ClusterConfig, scope: RenewScope, backupDir: string): string[] {
  const lines = [`back up the certificates of ${certNodes(config).map((h) => h.name).join(", ")} to ${backupDir}`];
  if (scope.etcd)
    for (const m of etcdMembers(config))
      lines.push(`etcd ${m.name}: check that every member is healthy, write its new server, peer and healthcheck certificates in place (etcd reads them for each new connection: no restart), check it serves the new one`);
  for (const m of controlPlanes(config)) {
    const what = [scope.etcd && "write the new apiserver-etcd-client certificate", scope.kubernetes && "kubeadm certs renew all"].filter(Boolean).join(", ");
    lines.push(`control plane ${m.name}: check another master serves, ${what}, restart its static pods, wait for its /readyz and the VIP's`);
  }
  return lines;
}

async function writeFiles(host: Host, files: readonly PlannedFile[]): Promise<void> {
  const dirs = [...new Set(files.map((f) => f.path.replace(/\/[^/]+$/, "")))];
  if (dirs.length) await host.exec(sh`mkdir -p ${dirs}`);
  for (const f of files) await host.writeFile(f.path, f.content, { mode: f.mode });
}

/** The plan's files for one node: those etcd reads (written when the member restarts) and the rest (when its control plane does). */
export function splitEtcdFiles(files: readonly PlannedFile[], node: string): { member: PlannedFile[]; controlPlane: PlannedFile[] } {
  const mine = files.filter((f) => !f.state && f.node === node);
  return { member: mine.filter((f) => readByEtcd(f.path)), controlPlane: mine.filter((f) => !readByEtcd(f.path)) };
}


/** Whether anything still answers HTTP on the node's apiserver port (any status counts as up). */
async function apiserverAnswers(host: Host, node: HostSpec): Promise<boolean> {
  return (await host.exec(sh`curl -sk --max-time 2 -o /dev/null ${apiserverUrl(node)}/healthz`, { check: false, timeoutMs: 10_000 })).code === 0;
}

/**
 * Restarts the static pods of one master: their manifests are moved out of the kubelet's sight until
 * the apiserver is gone, then back (kubeadm's documented way; a kubelet restart alone keeps the pods).
 */
export async function restartControlPlane(host: Host, node: HostSpec): Promise<void> {
  await parkManifests(host);
  try {
    await waitFor(`the kubelet on ${node.name} to stop its control-plane pods`, async () => !(await apiserverAnswers(host, node)), 90_000, 1000);
  } finally {
    await unparkManifests(host);
  }
}

/** Moves the control-plane manifests out of the kubelet's sight: it stops those pods (restore keeps them parked while etcd is replaced). */
export async function parkManifests(host: Host): Promise<void> {
  await host.exec(sh`mkdir -p ${PARKED_MANIFESTS} && for f in ${CONTROL_PLANE_PODS}; do [ ! -f ${MANIFESTS}/$f ] || mv ${MANIFESTS}/$f ${PARKED_MANIFESTS}/; done`);
}

/** Whether anything still answers HTTP on the node's apiserver port (exported for restore's wait). */
export const apiserverGone = async (host: Host, node: HostSpec) => !(await apiserverAnswers(host, node));

/** Puts parked manifests back (also after an interrupted earlier run); never overwrites a manifest in place. */
export async function unparkManifests(host: Host): Promise<void> {
  const r = await host.exec(
    sh`[ ! -d ${PARKED_MANIFESTS} ] || { for f in ${PARKED_MANIFESTS}/*.yaml; do [ ! -f "$f" ] || [ -e ${MANIFESTS}/"$(basename "$f")" ] || mv "$f" ${MANIFESTS}/; done; ls -A ${PARKED_MANIFESTS}; rmdir ${PARKED_MANIFESTS} 2>/dev/null; }`,
    { check: false },
  );
  const left = r.stdout.trim().split("\n").filter(Boolean);
  if (r.code !== 0 || left.length)
    throw new Error(
      `${PARKED_MANIFESTS} on ${host.name} still holds ${left.join(", ") || "files"} (also present in ${MANIFESTS}, or not movable): ` +
        `keep the right copy in ${MANIFESTS}, remove the directory, then run again`,
    );
}

async function kubeadmRenewAll(host: Host): Promise<void> {
  const r = await host.exec(sh`kubeadm certs renew all`, { check: false, secret: true, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`kubeadm certs renew all failed on ${host.name}: ${(r.stderr.trim() || `exit ${r.code}`).split("\n").slice(-10).join("\n")}`);
}

/** Whether kubeadm has set up a control plane on the node (its apiserver's static pod manifest is there). */
async function hasControlPlane(host: Host): Promise<boolean> {
  return (await host.exec(sh`test -f ${MANIFESTS}/kube-apiserver.yaml`, { check: false })).code === 0;
}

/**
 * Refuses to take a master's apiserver away when no other master serves. Masters without a control
 * plane do not count: with none (one master, or the others not joined yet) there is no choice.
 */
async function requireAnotherApiserver(ctx: PhaseContext, node: HostSpec): Promise<void> {
  const masters = controlPlanes(ctx.config).filter((m) => m.name !== node.name && !ctx.down?.has(m.name));
  const others = (await Promise.all(masters.map(async (m) => ((await hasControlPlane(await ctx.host(m))) ? m : null)))).filter((m) => m !== null);
  if (others.length === 0) return ctx.log.warn(`    no other master runs a control plane: the API is unavailable while ${node.name} restarts`);
  const ready = await Promise.all(others.map(async (m) => readyAt(await ctx.host(m), apiserverUrl(m))));
  if (!ready.some(Boolean))
    throw new Error(`no other master's apiserver is ready (${others.map((m) => m.name).join(", ")}): restarting ${node.name} now would leave the VIP with no backend`);
}

/** The server certificate (PEM) the plan gives `node`'s etcd member. */
function certOf(files: readonly PlannedFile[], node: string): string | undefined {
  return files.find((f) => f.node === node && /\/server\.crt$/.test(f.path))?.content.trim();
}

/** The certificate etcd serves on its client port right now, as PEM (openssl on the node). */
async function servedEtcdCert(host: Host, node: HostSpec): Promise<string | undefined> {
  const r = await host.exec(sh`openssl s_client -connect ${`${node.address}:${ETCD_CLIENT_PORT}`} </dev/null 2>/dev/null | openssl x509`, { check: false, timeoutMs: 15_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export interface RenewResult {
  backupDir: string;
  /** Files per node in the backup. */
  backedUp: Record<string, number>;
  /** What was done, in order. */
  done: string[];
}

/** The whole renewal; throws RenewStopped (with the backup path) at the first failure. */
export async function renewCerts(ctx: PhaseContext, scope: RenewScope, now = new Date()): Promise<RenewResult> {
  const backupDir = backupDirFor(ctx.stateDir, now);
  const done: string[] = [];
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    ctx.log.info(`  ${name}`);
    try {
      const out = await fn();
      done.push(name);
      return out;
    } catch (e) {
      throw new RenewStopped(name, e, backupDir, done);
    }
  };

  // Nodes down when the run started (ctx.down) are left out: their certificates are renewed by a later
  // run, once they are back (check-certs shows them as not checked meanwhile).
  const up = <T extends HostSpec>(nodes: readonly T[]) => nodes.filter((n) => !ctx.down?.has(n.name));
  const backedUp = await step("back up the certificates", () => backupCerts(ctx, up(certNodes(ctx.config)), backupDir));
  ctx.log.info(`    ${backupDir}: ${Object.entries(backedUp).map(([n, c]) => `${n} ${c} files`).join(", ")}`);
  // An earlier run interrupted mid-restart may have left a master's manifests parked.
  await step("put back control-plane manifests an interrupted run left parked", () =>
    Promise.all(up(controlPlanes(ctx.config)).map(async (m) => unparkManifests(await ctx.host(m)))),
  );

  let etcdFiles: PlannedFile[] = [];
  if (scope.etcd) {
    const plan = await step("issue new etcd certificates from the installer's etcd CA", async () => {
      const existing = await readEtcdPki(ctx);
      if (!existing.ca?.certPem || !existing.ca.keyPem)
        throw new Error(`the etcd CA is not in ${ctx.stateDir}/pki (nor its backup): renew-certs only reissues from the existing CA, a new one would need every member restarted at once`);
      return planEtcdPki(ctx.config, existing, { renew: "all", now });
    });
    ctx.log.info(`    issued ${plan.actions.filter((a) => a.action === "issued").map((a) => a.id).join(", ")} (valid from ${now.toISOString().slice(0, 16)}Z)`);
    etcdFiles = plan.files;
    await step("keep the etcd CA in the state directory", () => writeFiles(ctx.local, plan.files.filter((f) => f.state)));
    const downMembers = etcdMembers(ctx.config).filter((m) => ctx.down?.has(m.name));
    // etcd reads its certificate files again for every new TLS connection (client and peer), so the files
    // are replaced in place and no member is restarted: no put is cut, no leader lost. The served
    // certificate is then checked to be the new one, member by member, the cluster healthy before each.
    for (const m of up(etcdMembers(ctx.config)))
      await step(`etcd ${m.name}: new certificates in place`, async () => {
        const host = await ctx.host(m);
        if (!(await etcdHealthy(host, m, downMembers.length === 0)))
          throw new Error(
            downMembers.length
              ? `etcd on ${m.name} is not healthy while ${downMembers.map((d) => d.name).join(", ")} is down: renewing now could cost quorum. Bring the members back, then run renew-certs again`
              : `the etcd cluster is not fully healthy before renewing ${m.name}'s certificates: a member that cannot connect with its new certificate then could cost quorum. Bring every member back, then run renew-certs again`,
          );
        await writeFiles(host, splitEtcdFiles(etcdFiles, m.name).member);
        await waitFor(`etcd on ${m.name} to serve its new certificate`, async () => (await servedEtcdCert(host, m)) === certOf(etcdFiles, m.name), 30_000, 1000);
      });
  }

  for (const m of up(controlPlanes(ctx.config)))
    await step(`control plane ${m.name}: ${[scope.kubernetes && "kubeadm certs renew all", scope.etcd && "etcd client certificate"].filter(Boolean).join(" + ")}, restart`, async () => {
      const host = await ctx.host(m);
      if (!(await hasControlPlane(host))) {
        if (scope.kubernetes) throw new Error(`${m.name} has no control plane (no ${MANIFESTS}/kube-apiserver.yaml): run install first`);
        await writeFiles(host, splitEtcdFiles(etcdFiles, m.name).controlPlane);
        return ctx.log.info(`    ${m.name} has no control plane yet: etcd client certificate written, nothing to restart`);
      }
      await requireAnotherApiserver(ctx, m);
      await writeFiles(host, splitEtcdFiles(etcdFiles, m.name).controlPlane);
      if (scope.kubernetes) await kubeadmRenewAll(host);
      await restartControlPlane(host, m);
      await waitFor(`the apiserver of ${m.name} at ${apiserverUrl(m)}/readyz`, () => readyAt(host, apiserverUrl(m)), 240_000, 2000);
      await waitFor(`the VIP at ${vipUrl(ctx)}/readyz`, () => readyAt(host, vipUrl(ctx)), 60_000, 1000);
    });

  return { backupDir, backedUp, done };
}
