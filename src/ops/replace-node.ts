// `replace-node NAME`, run from a surviving master: a node that died or lost its disk, brought back
// on a machine with the same address (and SSH key) as a fresh node. First everything is checked and
// nothing changed when it refuses — NAME not in the config, NAME is this machine, NAME not reachable
// over SSH (the replacement must be up), NAME alive and healthy (without --force), its etcd member's
// removal would cost quorum. Then its dead etcd member is removed and its Kubernetes Node deleted; the
// command line runs the install phases next (the etcd phase adds the member again before it starts).
import type { HostSpec } from "../config/types.ts";
import { etcdMembers, hasRole } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import { reasonOn } from "../hosts/host.ts";
import type { ClusterAccess } from "../cluster/access.ts";
import { apiserverUrl, etcdClientUrl } from "../cluster/endpoints.ts";
import { etcdView, memberOf, removalRefusal, removeMember, ETCD_DATA_DIR, type EtcdClusterView, type EtcdMember } from "../cluster/etcd-members.ts";
import { ETCD_JOIN_RECORD } from "../cluster/etcd-service.ts";
import { readyAt } from "../cluster/wait.ts";
import { deleteNodeObject, nodeReady } from "../cluster/node-removal.ts";
import { InstallError, UsageError } from "../util/errors.ts";
import { sh } from "../util/sh.ts";

/** What was found about the node before anything changes. */
export interface NodeHealth {
  /** Why SSH failed; undefined when it answers. */
  sshError?: string;
  /** Its etcd member's health (etcd members only). */
  etcd?: { member?: EtcdMember; healthy: boolean; error?: string };
  /** Its apiserver's /readyz (control planes only). */
  apiserverReady?: boolean;
  /** Its Kubernetes Node Ready (workers only). */
  nodeReady?: boolean;
}

export interface ReplacementPlan {
  node: HostSpec;
  health: NodeHealth;
  /** Alive and healthy, replaced only because of --force. */
  forced: boolean;
  /** The etcd member to remove, the view it was judged on and the member that answered it. */
  etcd?: { member: EtcdMember; view: EtcdClusterView; runner: Host };
}

/** Healthy: SSH answers and every part its roles give it is well (etcd member, apiserver, or Node Ready). */
export function isHealthy(h: NodeHealth): boolean {
  return h.sshError === undefined && h.etcd?.healthy !== false && h.apiserverReady !== false && h.nodeReady !== false;
}

function healthWords(h: NodeHealth): string {
  return [
    "SSH answers",
    ...(h.etcd ? [`its etcd member is ${h.etcd.healthy ? "healthy" : `not healthy (${h.etcd.error ?? "no member"})`}`] : []),
    ...(h.apiserverReady !== undefined ? [`its apiserver is ${h.apiserverReady ? "ready" : "not ready"}`] : []),
    ...(h.nodeReady !== undefined ? [`its Kubernetes node is ${h.nodeReady ? "Ready" : "not Ready"}`] : []),
  ].join(", ");
}

/** A member host that answers, to run etcdctl on (it has the client certificate): this machine first when it is one. */
async function etcdRunner(ctx: ClusterAccess, except: string): Promise<Host | undefined> {
  const candidates = etcdMembers(ctx.config).filter((m) => m.name !== except);
  const here = candidates.find((m) => m.name === ctx.local.name);
  if (here) return ctx.local;
  for (const m of candidates) {
    try {
      return await ctx.host(m);
    } catch {
      // down: the next one
    }
  }
  return undefined;
}

/** Everything replace-node checks before it changes anything; throws the refusal (UsageError: exit 2, InstallError: exit 1). */
export async function planReplacement(ctx: ClusterAccess, name: string, opts: { force: boolean }): Promise<ReplacementPlan> {
  const { config } = ctx;
  const node = config.hosts.find((h) => h.name === name);
  if (!node) throw new UsageError(`${name} is not in ${config.source}: nothing was changed`, `replace-node takes a host of the config (${config.hosts.map((h) => h.name).join(", ")})`);
  if (name === ctx.local.name)
    throw new UsageError(`${name} is the machine this runs on: nothing was changed`, "run replace-node from another control-plane node (its binary is /usr/local/bin/k8s-ha-offline)");

  const health: NodeHealth = {};
  try {
    await ctx.host(node);
  } catch (err) {
    health.sshError = reasonOn(name, err);
    throw new InstallError(
      `${name} (${node.address}) cannot be reached over SSH (${health.sshError}): nothing was changed. ` +
        `The replacement machine must be up first, with the address ${node.address}, root's authorized_keys holding the installer's key and ${name}'s SSH host key (or its new key put into the installer's known_hosts)`,
    );
  }

  let etcd: ReplacementPlan["etcd"];
  if (hasRole(node, "etcd")) {
    const runner = await etcdRunner(ctx, name);
    const askAt = etcdMembers(config).filter((m) => m.name !== name).map(etcdClientUrl);
    const view = runner && (await etcdView(runner, askAt));
    if (!runner || !view) throw new InstallError(`no other etcd member answers (asked ${askAt.join(", ")}): nothing was changed; bring the etcd members back first (status shows them)`);
    const member = memberOf(view, node);
    health.etcd = member ? { member, healthy: member.healthy, ...(member.error ? { error: member.error } : {}) } : { healthy: false, error: "not a member" };
    if (member) etcd = { member, view, runner };
  }
  if (hasRole(node, "control-plane")) health.apiserverReady = await readyAt(ctx.local, apiserverUrl(node));
  else health.nodeReady = await nodeReady(ctx, name).catch(() => false);

  const healthy = isHealthy(health);
  if (healthy && !opts.force)
    throw new UsageError(
      `${name} is alive and healthy (${healthWords(health)}): nothing was changed`,
      `replace-node is for a node that died or lost its disk; to rebuild ${name} anyway (its etcd data is moved aside, it is reset and installed again), add --force`,
    );
  if (etcd) {
    const refusal = removalRefusal(etcd.view.members, etcd.member);
    if (refusal) throw new InstallError(`${name}'s etcd member ${etcd.member.id} cannot be removed: ${refusal}. Nothing was changed; bring the members that are down back first (status shows them)`);
  }
  return { node, health, forced: healthy, ...(etcd ? { etcd } : {}) };
}

/** What executeReplacement will do, one line each (for --dry-run and the progress output). */
export function replacementSteps(plan: ReplacementPlan): string[] {
  const { node } = plan;
  return [
    ...(plan.forced ? [`stop kubelet and etcd on ${node.name}, move ${ETCD_DATA_DIR} aside, kubeadm reset (it is alive: --force)`] : []),
    ...(plan.etcd ? [`remove etcd member ${plan.etcd.member.id} (${plan.etcd.member.name || node.name}, ${plan.etcd.member.healthy ? "healthy" : "not healthy"}) through ${plan.etcd.runner.name}`] : []),
    `delete the Kubernetes node ${node.name} (when the API knows it)`,
    `run the install phases: ${node.name} installed fresh${hasRole(node, "etcd") ? ", added to etcd before its member starts" : ""}${hasRole(node, "control-plane") ? ", joined as a control plane" : ""}; the other nodes report nothing to do`,
  ];
}

/** The changes before the install phases run: the node's old self out of etcd and Kubernetes. */
export async function executeReplacement(ctx: ClusterAccess, plan: ReplacementPlan, say: (line: string) => void): Promise<void> {
  const { node } = plan;
  if (plan.forced) {
    // A live member removed from etcd would stop itself; stopped first, its data kept aside.
    const host = await ctx.host(node);
    const aside = `${ETCD_DATA_DIR}.replaced-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    const r = await host.exec(
      sh`systemctl disable --now kubelet.service etcd.service >/dev/null 2>&1; if [ -d ${`${ETCD_DATA_DIR}/member`} ]; then mv ${ETCD_DATA_DIR} ${aside} && mkdir -m 700 ${ETCD_DATA_DIR}; fi; rm -f ${ETCD_JOIN_RECORD}; if command -v kubeadm >/dev/null 2>&1; then kubeadm reset -f >/dev/null 2>&1 || true; fi; rm -rf /etc/kubernetes /var/lib/kubelet /etc/cni/net.d`,
      { check: false, timeoutMs: 300_000 },
    );
    if (r.code !== 0) throw new InstallError(`${node.name}: stopping its kubelet and etcd failed: ${(r.stderr || r.stdout).trim()}`);
    say(`${node.name}: kubelet and etcd stopped, etcd data kept in ${aside}, kubeadm reset`);
  }
  if (plan.etcd) {
    const { member, view, runner } = plan.etcd;
    // Judged again now that a forced member is stopped: it no longer counts as healthy.
    const fresh = (await etcdView(runner, [view.askedAt, ...view.members.flatMap((m) => m.clientUrls.slice(0, 1))])) ?? view;
    const now = fresh.members.find((m) => m.id === member.id);
    if (now) {
      await removeMember(runner, fresh, now);
      say(`etcd: member ${member.id} (${member.name || node.name}) removed`);
    } else say(`etcd: member ${member.id} already removed`);
  }
  say(`${node.name}: ${(await deleteNodeObject(ctx, node.name)) ? "Kubernetes node deleted" : "no Kubernetes node of that name (already deleted)"}`);
}
