// Phases "etcd-pki" and "etcd": the external etcd cluster of the reference guide (../shared/seed/,
// a Chinese kubeadm HA guide: its section 四 and the linked ansible playbook), with a PKI made here in TypeScript and every member checked over TLS.
import type { ClusterConfig, HostSpec } from "../config/types.ts";
import { etcdMembers, controlPlanes, firstMaster } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import type { Phase, PhaseContext } from "./phase.ts";
import { planEtcdPki, etcdPkiSources, etcdCaStatePaths, ETCD_PKI_DIR, type ExistingEtcdPki, type EtcdPkiPlan } from "../pki/etcd-pki.ts";
import { render } from "../templates/render.ts";
import unitTemplate from "../../assets/etcd/etcd.service" with { type: "text" };
import { installUnitFile, ensureService, unitState, waitFor } from "./util/systemd.ts";
import { lockedFile } from "./util/depot-files.ts";
import { installTarball, tarballInstalled } from "./util/tarball.ts";
import { NOTHING, todo } from "./steps.ts";
import { bytesSha256 } from "../hosts/sha256.ts";
import { shq } from "../hosts/shell-quote.ts";
import { dirname } from "node:path";

const decode = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : undefined);
const union = (c: ClusterConfig): HostSpec[] => [...new Map([...etcdMembers(c), ...controlPlanes(c)].map((h) => [h.name, h])).values()];

/** What exists now: the CA from master1's state dir (or its backup), every leaf from the node it lives on. */
export async function readExisting(ctx: PhaseContext): Promise<ExistingEtcdPki> {
  const p = etcdCaStatePaths(ctx.stateDir);
  const read = async (a: string, b: string) => decode(await ctx.local.readFile(a)) ?? decode(await ctx.local.readFile(b));
  const ca = { certPem: await read(p.cert, p.backupCert), keyPem: await read(p.key, p.backupKey) };
  const byNode = new Map(ctx.config.hosts.map((h) => [h.name, h]));
  const leaves: ExistingEtcdPki["leaves"] = {};
  await Promise.all(
    etcdPkiSources(ctx.config).map(async (s) => {
      const host = await ctx.host(byNode.get(s.node)!);
      leaves[s.id] = { certPem: decode(await host.readFile(s.certPath)), keyPem: decode(await host.readFile(s.keyPath)) };
    }),
  );
  return { ca: ca.certPem || ca.keyPem ? ca : undefined, leaves };
}

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
  title: "Etcd PKI: CA (kept on master1 only), server/peer certificates per member, apiserver and healthcheck clients",
  hosts: (c) => [firstMaster(c)],
  mode: "once",
  async check(ctx) {
    const plan = await planEtcdPki(ctx.config, await readExisting(ctx));
    const pending = plan.changed ? plan.files : await pendingFiles(ctx, plan);
    return pending.length ? todo(plan.actions.filter((a) => a.action === "issued").map((a) => `${a.id}: ${a.why}`).join(", ") || `${pending.length} file(s) to write`) : NOTHING;
  },
  async run(ctx) {
    const plan = await planEtcdPki(ctx.config, await readExisting(ctx));
    for (const a of plan.actions) if (a.action === "issued") ctx.log.info(`    etcd-pki: issued ${a.id} (${a.why})`);
    // Directories per node ("" = master1's state dir, written locally).
    const dirs = new Map<string, Set<string>>();
    for (const f of plan.files) {
      const key = f.state ? "" : f.node;
      if (!dirs.has(key)) dirs.set(key, new Set());
      dirs.get(key)!.add(dirname(f.path));
    }
    for (const [node, ds] of dirs) {
      const host = node ? await hostFor(ctx, node) : ctx.local;
      await host.exec(`mkdir -p ${[...ds].map(shq).join(" ")} && chmod 700 ${shq(`${ctx.stateDir}/pki`)} 2>/dev/null; true`);
    }
    await Promise.all(
      plan.files.map(async (f) => {
        const host = f.state ? ctx.local : await hostFor(ctx, f.node);
        await host.writeFile(f.path, f.content, { mode: f.mode });
      }),
    );
  },
};

const ETCDCTL = (addr: string) =>
  `ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=https://${addr}:2379 --cacert=${ETCD_PKI_DIR}/ca.crt ` +
  `--cert=${ETCD_PKI_DIR}/healthcheck-client.crt --key=${ETCD_PKI_DIR}/healthcheck-client.key --dial-timeout=3s --command-timeout=5s`;

export const etcdctl = (node: HostSpec, args: string) => `${ETCDCTL(node.address)} ${args}`;

async function unitFor(ctx: PhaseContext, host: Host, node: HostSpec): Promise<string> {
  const members = etcdMembers(ctx.config);
  const pki = await Promise.all(["ca.crt", "server.crt", "peer.crt"].map(async (f) => decode(await host.readFile(`${ETCD_PKI_DIR}/${f}`)) ?? ""));
  return render(unitTemplate, {
    name: node.name,
    cluster: ctx.config.name,
    address: node.address,
    initialCluster: members.map((m) => `${m.name}=https://${m.address}:2380`).join(","),
    clusterToken: `etcd-${ctx.config.name}`,
    pkiFingerprint: bytesSha256(pki.join("")).slice(0, 16),
  }, "etcd.service");
}

const etcdTarball = (ctx: PhaseContext) => lockedFile(ctx, /^files\/etcd-v[\d.]+-linux-(amd64|arm64)\.tar\.gz$/, "etcd tarball");

export const healthy = async (host: Host, node: HostSpec, cluster = false) =>
  (await host.exec(etcdctl(node, `endpoint health${cluster ? " --cluster" : ""}`), { check: false, timeoutMs: 20_000 })).code === 0;

// Restarts of members that already run are made one at a time, each waiting for the whole cluster
// to be healthy again, so a changed unit or certificate never costs quorum.
let restartChain: Promise<void> = Promise.resolve();

export const etcd: Phase = {
  name: "etcd",
  title: "Etcd members from the bundle tarball as systemd services, TLS on client and peer URLs, healthy as a cluster",
  hosts: etcdMembers,
  mode: "parallel",
  async check(ctx, node) {
    const host = await ctx.host(node);
    if (!(await tarballInstalled(host, "etcd", etcdTarball(ctx)))) return todo(`${etcdTarball(ctx).path} not installed`);
    const unit = decode(await host.readFile("/etc/systemd/system/etcd.service"));
    if (unit !== (await unitFor(ctx, host, node))) return todo("etcd.service missing or different (config or certificates changed)");
    if (!(await unitState(host, "etcd.service")).active) return todo("etcd is not running");
    if (!(await healthy(host, node))) return todo("member is not healthy");
    return NOTHING;
  },
  async run(ctx, node) {
    const host = await ctx.host(node);
    if (!(await tarballInstalled(host, "etcd", etcdTarball(ctx))))
      await installTarball(host, ctx, "etcd", etcdTarball(ctx),
        `d=$(mktemp -d); tar -xzf "$TARBALL" -C "$d" --strip-components=1; install -m 0755 "$d/etcd" "$d/etcdctl" /usr/local/bin/; rm -rf "$d"`);
    await applyEtcdService(ctx, host, node);
  },
};

/**
 * etcd.service as the config and the member's certificates want it: a running member whose unit
 * changed is restarted in turn with the others (renew-certs relies on this), a stopped one started.
 */
export async function applyEtcdService(ctx: PhaseContext, host: Host, node: HostSpec): Promise<void> {
  await host.exec("mkdir -p /var/lib/etcd && chmod 700 /var/lib/etcd");
  const wasActive = (await unitState(host, "etcd.service")).active;
  const changed = await installUnitFile(host, "/etc/systemd/system/etcd.service", await unitFor(ctx, host, node));
  if (wasActive && changed) {
    const turn = restartChain.then(async () => {
      await ensureService(host, "etcd.service", "restart");
      await waitFor(`etcd cluster health after restarting ${node.name}`, () => healthy(host, node, true), 90_000, 1000);
    });
    restartChain = turn.catch(() => undefined);
    await turn;
  } else {
    // First start: members wait for each other, so all of them start at once.
    await host.exec("systemctl enable etcd.service && systemctl start --no-block etcd.service");
  }
  await waitFor(`etcd on ${node.name} to be healthy with the whole cluster`, () => healthy(host, node, true), 120_000, 1000);
}
