// `kubeadm upgrade plan|apply vX --yes|node` of the stand-in: kubeadm's upgrade contract, strictly.
// Refused as real kubeadm refuses (its wording): a target other than this kubeadm's own version, more
// than one minor step, a downgrade (real kubeadm lets --force through; the stand-in has no --force),
// a kubelet newer than the target control plane, an unhealthy or too old external etcd, images missing
// from the imageRepository. Stricter than kubeadm: `upgrade node` before the control plane is at this
// kubeadm's version (so a worker's kubelet can never end up newer than an apiserver), and apply without
// --yes (no prompt). External etcd: real kubeadm only lists it under "External components that should
// be upgraded manually" (plan) and enforces its minimum version (MinExternalEtcdVersion, the same
// check as init's ExternalEtcdVersion); the stand-in does the same, and refuses below that minimum.
import YAML from "yaml";
import { fail } from "../lib/errors.ts";
import { hostName, standinVersion } from "../lib/env.ts";
import { bool, parseFlags, str } from "../lib/flags.ts";
import { loadKubeconfig, type Client } from "../lib/kubeconfig.ts";
import { call, retry } from "../lib/api.ts";
import { componentTags, imageList, kubeadmApiFor, parseVersion, type Semver } from "../lib/versions.ts";
import { clusterModel, readDocs, type ClusterModel, type Doc } from "../config/load.ts";
import { Etcd } from "../lib/etcd.ts";
import { phase, Preflight } from "./phase.ts";
import { KUBE_DIR, KUBELET_CONFIG, MANIFESTS, exists, readFile, waitApiserver, writeFile, writeManifests, type NodeFacts } from "./node.ts";
import { applyAddons, kubeletConfigMapName } from "./cluster.ts";
import { printTable, renewAll } from "./admin.ts";

const KUBEADM_FLAGS = "/var/lib/kubelet/kubeadm-flags.env";
const cmp = (a: Semver, b: Semver) => a.major - b.major || a.minor - b.minor || a.patch - b.patch;

/** The external etcd version kubeadm refuses below (constants.MinExternalEtcdVersion, 1.22 to 1.33). */
export const MIN_EXTERNAL_ETCD = "3.4.13";

/** Why kubeadm would refuse to move the cluster from `current` to `target`, or null (versionSkewPolicy's rules). */
export function versionProblem(current: Semver, target: Semver, kubeadm: Semver): string | null {
  if (cmp(target, kubeadm) > 0)
    return `Specified version to upgrade to "${target.text}" is higher than the kubeadm version "${kubeadm.text}". Upgrade kubeadm first using the tool you used to install kubeadm`;
  if (cmp(target, kubeadm) < 0)
    return `Specified version to upgrade to "${target.text}" is lower than the kubeadm version "${kubeadm.text}": the stand-in upgrades to its own version only`;
  if (cmp(target, current) < 0)
    return `Specified version to upgrade to "${target.text}" is equal to or lower than the cluster version "${current.text}". Downgrades are not supported yet`;
  if (target.major !== current.major || target.minor > current.minor + 1)
    return `Specified version to upgrade to "${target.text}" is too high; kubeadm can upgrade only 1 minor version at a time`;
  return null;
}

/** kubeadm's rule for external etcd: below the minimum it refuses; below the target's own etcd it only advises. */
export function etcdProblem(running: string): string | null {
  const v = (s: string) => s.split(/[.-]/).slice(0, 3).map(Number);
  const [a, b] = [v(running), v(MIN_EXTERNAL_ETCD)];
  for (let i = 0; i < 3; i++) if (a[i]! !== b[i]!) return a[i]! < b[i]! ? `this version of kubeadm only supports external etcd version >= ${MIN_EXTERNAL_ETCD}. Current version: ${running}` : null;
  return null;
}

interface ClusterNow { doc: Doc; current: Semver; cm: any }

async function clusterNow(api: Client): Promise<ClusterNow> {
  console.log("[upgrade/config] Reading configuration from the cluster...");
  console.log("[upgrade/config] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'");
  const cm = await call(api, "GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config");
  const text: string = cm.data?.ClusterConfiguration ?? fail("ConfigMap kube-system/kubeadm-config has no ClusterConfiguration: was this cluster made by kubeadm init?");
  const raw = YAML.parse(text) as Doc;
  const current = parseVersion(String(raw.kubernetesVersion ?? ""), "kubeadm-config ClusterConfiguration.kubernetesVersion");
  // Decoded as the stored version's kubeadm wrote it (strict, like every config the stand-in reads).
  const doc = readDocs(text, "ConfigMap kube-system/kubeadm-config", current).get("ClusterConfiguration")!;
  return { doc, current, cm };
}

/** The ClusterConfiguration at `target`, in the config API that version speaks. */
function clusterAt(doc: Doc, target: Semver): ClusterModel {
  return clusterModel({ ...doc, apiVersion: kubeadmApiFor(target), kubernetesVersion: target.text }, target);
}

const nodesOf = async (api: Client): Promise<any[]> => (await call(api, "GET", "/api/v1/nodes")).items;
const isControlPlane = (n: any) => Object.keys(n.metadata?.labels ?? {}).some((l) => l === "node-role.kubernetes.io/control-plane" || l === "node-role.kubernetes.io/master");
const apiserverTag = (n: any): string | undefined => (n.status?.standin?.staticPods ?? []).find((p: any) => p.name === "kube-apiserver")?.image?.split(":").pop();

/** This node's apiserver endpoint, from the manifest kubeadm wrote at init/join. */
function localFacts(c: ClusterModel): NodeFacts {
  const text = readFile(`${MANIFESTS}/kube-apiserver.yaml`);
  const cmd: string[] = YAML.parse(text)?.spec?.containers?.[0]?.command ?? [];
  const flag = (n: string) => cmd.find((a) => a.startsWith(`--${n}=`))?.split("=")[1];
  const advertise = flag("advertise-address") ?? fail(`${MANIFESTS}/kube-apiserver.yaml has no --advertise-address`);
  return { cluster: c, nodeName: nodeName(), advertiseAddress: advertise!, bindPort: Number(flag("secure-port") ?? 6443) };
}

function nodeName(): string {
  const env = exists(KUBEADM_FLAGS) ? readFile(KUBEADM_FLAGS) : "";
  return /--hostname-override=([^\s"]+)/.exec(env)?.[1] ?? hostName();
}

async function etcdChecks(c: ClusterModel): Promise<string[]> {
  const x = c.etcdExternal!;
  const pf = new Preflight([]);
  await pf.externalEtcd(x);
  const found: string[] = [];
  if (!pf.errors.length) {
    const etcd = new Etcd(x.endpoints, x);
    for (const ep of x.endpoints) {
      const v = JSON.parse((await etcd.get(ep, "/version")).body).etcdserver as string;
      found.push(v);
      const p = etcdProblem(v);
      if (p) pf.error("ExternalEtcdVersion", p);
    }
  }
  if (pf.errors.length) fail(`[upgrade/health] FATAL: ${pf.errors.map((e) => `[ERROR ${e.check}]: ${e.message}`).join("\n")}`);
  return found;
}

/** Static pod manifests at the target, the old ones backed up as kubeadm does; then the apiserver must answer with the new version. */
async function upgradeStaticPods(f: NodeFacts, timeoutMs: number): Promise<string> {
  const backup = `${KUBE_DIR}/tmp/kubeadm-backup-manifests-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  for (const n of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"])
    if (exists(`${MANIFESTS}/${n}.yaml`)) writeFile(`${backup}/${n}.yaml`, readFile(`${MANIFESTS}/${n}.yaml`));
  console.log(`[upgrade/staticpods] Writing new Static Pod manifests; the old ones are backed up to "${backup}"`);
  writeManifests(f);
  console.log("[upgrade/staticpods] Waiting for the kubelet to restart the component");
  const ca = readFile(`${f.cluster.certificatesDir}/ca.crt`);
  const url = `https://${f.advertiseAddress}:${f.bindPort}/version`;
  await retry(async () => {
    const r = await fetch(url, { tls: { ca }, signal: AbortSignal.timeout(3000) } as RequestInit);
    const v = (await r.json()) as { gitVersion?: string };
    if (v.gitVersion !== f.cluster.kubernetesVersion.text) throw new Error(`the apiserver still reports ${v.gitVersion}`);
  }, timeoutMs, 1000).catch((e) => fail(`[upgrade/staticpods] the kube-apiserver on ${f.advertiseAddress} did not come back at ${f.cluster.kubernetesVersion.text}: ${(e as Error).message}`));
  await waitApiserver(f, timeoutMs);
  console.log(`[upgrade/staticpods] Component "kube-apiserver" upgraded successfully!`);
  return backup;
}

/** /var/lib/kubelet/config.yaml from the cluster's kubelet ConfigMap of the target, and the pause image in kubeadm-flags.env. */
async function upgradeKubeletConfig(api: Client, c: ClusterModel) {
  const name = kubeletConfigMapName(c);
  const cm = await call(api, "GET", `/api/v1/namespaces/kube-system/configmaps/${name}`);
  console.log(`[kubelet-start] Writing kubelet configuration to file "${KUBELET_CONFIG}" (from ConfigMap ${name})`);
  if (exists(KUBELET_CONFIG)) writeFile(`${KUBE_DIR}/tmp/kubelet-config-backup.yaml`, readFile(KUBELET_CONFIG), 0o644);
  writeFile(KUBELET_CONFIG, cm.data.kubelet, 0o644);
  if (exists(KUBEADM_FLAGS)) {
    const pause = `--pod-infra-container-image=${c.imageRepository}/pause:${componentTags(c.kubernetesVersion).pause}`;
    writeFile(KUBEADM_FLAGS, readFile(KUBEADM_FLAGS).replace(/--pod-infra-container-image=[^\s"]+/, pause), 0o644);
  }
  console.log("[upgrade] The kubelet configuration for this node was updated; restart the kubelet (systemctl restart kubelet) after upgrading its package");
}

/** kubeadm-config at the target, and the kubelet ConfigMap of the target made from the current one (upload-config). */
async function uploadConfigAt(api: Client, now: ClusterNow, c: ClusterModel) {
  console.log(`[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace`);
  await call(api, "PUT", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config", { ...now.cm, data: { ...now.cm.data, ClusterConfiguration: YAML.stringify(c.raw) } });
  const oldName = kubeletConfigMapName({ ...c, kubernetesVersion: now.current });
  const name = kubeletConfigMapName(c);
  const old = await call(api, "GET", `/api/v1/namespaces/kube-system/configmaps/${oldName}`);
  console.log(`[kubelet] Creating a ConfigMap "${name}" in namespace kube-system with the configuration for the kubelets in the cluster`);
  await call(api, "PUT", `/api/v1/namespaces/kube-system/configmaps/${name}`, { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "kube-system" }, data: old.data });
}

function adminClient(): Client {
  if (!exists(`${KUBE_DIR}/admin.conf`)) fail(`[upgrade] ${KUBE_DIR}/admin.conf is missing: run this on a control-plane node`);
  return loadKubeconfig(`${KUBE_DIR}/admin.conf`);
}

async function plan(argv: string[]): Promise<object> {
  const p = parseFlags(argv, { v: "string", config: "string" });
  const kubeadmV = parseVersion(standinVersion());
  const target = p.args[0] ? parseVersion(p.args[0]) : kubeadmV;
  const api = adminClient();
  const now = await clusterNow(api);
  const c = clusterAt(now.doc, target);
  const etcdVersions = await etcdChecks(c);
  const problem = versionProblem(now.current, target, kubeadmV);
  const nodes = await nodesOf(api);
  console.log(`[upgrade] Fetching available versions to upgrade to\n[upgrade/versions] Cluster version: ${now.current.text}\n[upgrade/versions] kubeadm version: ${kubeadmV.text}`);
  if (problem) fail(`[upgrade/version] FATAL: ${problem}`);
  const want = componentTags(target).etcd;
  console.log("\nExternal components that should be upgraded manually before you upgrade the control plane with 'kubeadm upgrade apply':");
  printTable([["COMPONENT", "CURRENT", "TARGET"], ...etcdVersions.map((v) => ["etcd", v, want])]);
  console.log("\nComponents that must be upgraded manually after you have upgraded the control plane with 'kubeadm upgrade apply':");
  printTable([["COMPONENT", "CURRENT", "TARGET"], ...nodes.map((n) => ["kubelet", `${n.metadata.name} ${n.status?.nodeInfo?.kubeletVersion ?? "?"}`, target.text])]);
  console.log("\nUpgrade to the latest stable version:\n");
  printTable([
    ["COMPONENT", "CURRENT", "TARGET"],
    ...["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"].map((x) => [x, now.current.text, target.text]),
    ["CoreDNS", componentTags(now.current).coredns, componentTags(target).coredns],
  ]);
  console.log(`\nYou can now apply the upgrade by executing the following command:\n\n\tkubeadm upgrade apply ${target.text}\n`);
  return { command: "upgrade plan", from: now.current.text, to: target.text, etcd: etcdVersions };
}

async function apply(argv: string[]): Promise<object> {
  const p = parseFlags(argv, { yes: "bool", v: "string", config: "string", "certificate-renewal": "string", "etcd-upgrade": "string", "ignore-preflight-errors": "list" }, { y: "yes" });
  if (!p.args[0]) fail("[upgrade/version] FATAL: missing one or more required arguments: kubeadm upgrade apply VERSION");
  const target = parseVersion(p.args[0]!);
  if (!bool(p, "yes")) fail("[upgrade/confirm] the stand-in does not prompt: pass --yes (-y) to proceed with the upgrade");
  const kubeadmV = parseVersion(standinVersion());
  const api = adminClient();
  const now = await clusterNow(api);
  console.log(`[upgrade/version] You have chosen to change the cluster version to "${target.text}"\n[upgrade/versions] Cluster version: ${now.current.text}\n[upgrade/versions] kubeadm version: ${kubeadmV.text}`);
  const problem = versionProblem(now.current, target, kubeadmV);
  if (problem) fail(`[upgrade/version] FATAL: the --version argument is invalid due to these fatal errors:\n\n\t- ${problem}\n\nPlease fix the misalignments highlighted above and try upgrading again`);
  const c = clusterAt(now.doc, target);
  if (!exists(`${MANIFESTS}/kube-apiserver.yaml`)) fail(`[upgrade] this node has no ${MANIFESTS}/kube-apiserver.yaml: run "kubeadm upgrade apply" on a control-plane node`);
  const f = localFacts(c);
  const nodes = await nodesOf(api);
  const newer = nodes.filter((n) => { const v = n.status?.nodeInfo?.kubeletVersion; return v && cmp(parseVersion(v), target) > 0; });
  if (newer.length)
    fail(`[upgrade/version] FATAL: Kubelet version ${newer.map((n) => `"${n.status.nodeInfo.kubeletVersion}" on node ${n.metadata.name}`).join(", ")} is newer than the control plane version "${target.text}"; a kubelet must never be newer than the kube-apiserver`);
  const etcd = await phase("preflight", async () => etcdChecks(c));
  const pulls = await phase("preflight", async () => {
    console.log("[upgrade/prepull] Pulling images required for setting up a Kubernetes cluster");
    const pf = new Preflight(str(p, "ignore-preflight-errors") ? (p.flags["ignore-preflight-errors"] as string[]) : []);
    const r = await pf.imagesPullable(imageList({ version: target, imageRepository: c.imageRepository, externalEtcd: true }));
    pf.finish();
    return r;
  });
  console.log(`[upgrade/apply] Upgrading your Static Pod-hosted control plane to version "${target.text}"...`);
  const renew = str(p, "certificate-renewal") !== "false";
  if (renew) await phase("control-plane", () => renewAll(c.certificatesDir));
  const backup = await phase("control-plane", () => upgradeStaticPods(f, 120_000));
  await phase("upload-config", () => uploadConfigAt(api, now, c));
  await phase("kubelet-config", () => upgradeKubeletConfig(api, c));
  await phase("addon", () => applyAddons(api, c));
  console.log(`\n[upgrade/successful] SUCCESS! Your cluster was upgraded to "${target.text}". Enjoy!\n\n[upgrade/kubelet] Now that your control plane is upgraded, please proceed with upgrading your kubelets if you haven't already done so.`);
  return { command: "upgrade apply", from: now.current.text, to: target.text, nodeName: f.nodeName, controlPlane: true, certificatesRenewed: renew, manifestsBackup: backup, etcd, imagesPresent: pulls.present, imagesPulled: pulls.pulled };
}

async function node(argv: string[]): Promise<object> {
  const p = parseFlags(argv, { v: "string", "certificate-renewal": "string", "etcd-upgrade": "string", "skip-phases": "list", "ignore-preflight-errors": "list", kubeconfig: "string" });
  const kubeadmV = parseVersion(standinVersion());
  const controlPlane = exists(`${MANIFESTS}/kube-apiserver.yaml`);
  const api = loadKubeconfig(str(p, "kubeconfig") ?? `${KUBE_DIR}/${controlPlane ? "admin" : "kubelet"}.conf`);
  const now = await clusterNow(api);
  if (cmp(now.current, kubeadmV) < 0)
    fail(`[upgrade] the cluster is at ${now.current.text} and this kubeadm is ${kubeadmV.text}: run "kubeadm upgrade apply ${kubeadmV.text}" on the first control-plane node before "kubeadm upgrade node" (a kubelet must never be newer than the kube-apiserver)`);
  if (cmp(now.current, kubeadmV) > 0)
    fail(`[upgrade] this kubeadm (${kubeadmV.text}) is older than the cluster (${now.current.text}): upgrade kubeadm first using the tool you used to install kubeadm`);
  const c = clusterAt(now.doc, now.current);
  const me = nodeName();
  let backup: string | undefined;
  let renew = false;
  if (controlPlane) {
    console.log(`[upgrade] Upgrading your Static Pod-hosted control plane instance to version "${c.kubernetesVersion.text}"...`);
    await phase("preflight", async () => {
      await etcdChecks(c);
      const pf = new Preflight(p.flags["ignore-preflight-errors"] as string[] ?? []);
      await pf.imagesPullable(imageList({ version: c.kubernetesVersion, imageRepository: c.imageRepository, externalEtcd: true }));
      pf.finish();
    });
    renew = str(p, "certificate-renewal") !== "false";
    if (renew) await phase("control-plane", () => renewAll(c.certificatesDir));
    backup = await phase("control-plane", () => upgradeStaticPods(localFacts(c), 120_000));
  } else {
    // Strict: the kubelet that `upgrade node` prepares would be newer than a control plane still on the old version.
    const old = (await nodesOf(api)).filter(isControlPlane).filter((n) => { const t = apiserverTag(n); return t && /^v\d/.test(t) && cmp(parseVersion(t), kubeadmV) < 0; });
    if (old.length)
      fail(`[upgrade] the kube-apiserver on ${old.map((n) => `${n.metadata.name} (${apiserverTag(n)})`).join(", ")} is older than ${kubeadmV.text}: upgrade every control-plane node before the workers (a kubelet must never be newer than the kube-apiserver)`);
  }
  await phase("kubelet-config", () => upgradeKubeletConfig(api, c));
  console.log("[upgrade] The configuration for this node was successfully updated!\n[upgrade] Now you should go ahead and upgrade the kubelet package using your package manager.");
  return { command: "upgrade node", nodeName: me, controlPlane, version: c.kubernetesVersion.text, certificatesRenewed: renew, manifestsBackup: backup };
}

export async function upgrade(argv: string[]): Promise<object> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "plan": return plan(rest);
    case "apply": return apply(rest);
    case "node": return node(rest);
    default: return fail(`unknown command "${sub ?? ""}" for "kubeadm upgrade": use plan, apply or node`);
  }
}
