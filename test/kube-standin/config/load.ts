// Reads a kubeadm --config file the way kubeadm does (multi-document YAML, one document per kind),
// but refuses — instead of warning — anything real kubeadm would only tolerate.
import fs from "node:fs";
import net from "node:net";
import YAML from "yaml";
import { fail } from "../lib/errors.ts";
import { parseDuration } from "../lib/duration.ts";
import { defaultImageRepository, kubeadmApiFor, parseVersion, type Semver } from "../lib/versions.ts";
import { hostName, standinVersion, rooted } from "../lib/env.ts";
import { checkObject, DecodeProblems } from "./schema.ts";
import { KUBEADM_GROUP, SCHEMAS } from "./kinds.ts";
import { argsOf, defaultAddress, splitHostPort, TOKEN_RE } from "./values.ts";

export type Doc = Record<string, any>;

export interface EtcdExternal { endpoints: string[]; caFile: string; certFile: string; keyFile: string }

export interface ClusterModel {
  raw: Doc;
  kubernetesVersion: Semver;
  controlPlaneEndpoint?: string;
  imageRepository: string;
  etcdExternal?: EtcdExternal;
  podSubnet?: string;
  serviceSubnet: string;
  dnsDomain: string;
  certSANs: string[];
  certificatesDir: string;
  clusterName: string;
  extraArgs: { apiServer: Record<string, string>; controllerManager: Record<string, string>; scheduler: Record<string, string> };
}

export interface BootstrapTokenModel { token: string; ttlMs: number; usages: string[]; groups: string[]; description?: string }

export interface NodeRegistrationModel { name: string; criSocket?: string; imagePullPolicy?: string; taints: unknown[] | null; ignorePreflightErrors: string[]; kubeletExtraArgs: Record<string, string> }

export interface InitModel {
  cluster: ClusterModel;
  node: NodeRegistrationModel;
  advertiseAddress: string;
  bindPort: number;
  bootstrapTokens: BootstrapTokenModel[];
  certificateKey?: string;
  skipPhases: string[];
  controlPlaneTimeoutMs: number;
  kubelet: Doc;
  kubeProxy?: Doc;
}

export interface JoinModel {
  node: NodeRegistrationModel;
  endpoint?: string;
  token?: string;
  caCertHashes: string[];
  unsafeSkipCAVerification: boolean;
  controlPlane?: { advertiseAddress?: string; bindPort: number; certificateKey?: string };
  skipPhases: string[];
  caCertPath: string;
}

const OLD_APIS: Record<string, number> = { v1beta1: 22, v1beta2: 26 }; // version string -> first minor without it

const noKind = (where: string, kind: string, apiVersion: string) =>
  fail(`${where}: no kind "${kind}" is registered for version "${apiVersion}" in scheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"`);

/** Check a document's apiVersion/kind against what this version of kubeadm reads. */
function checkGvk(doc: Doc, version: Semver, where: string): { group: string; version: string; kind: string } {
  const apiVersion = doc.apiVersion, kind = doc.kind;
  if (typeof kind !== "string" || kind === "") fail(`${where}: Object 'Kind' is missing in '${YAML.stringify(doc).trim()}'`);
  if (typeof apiVersion !== "string" || apiVersion === "") fail(`${where}: Object 'apiVersion' is missing for kind "${kind}"`);
  const [group, ver] = apiVersion.includes("/") ? apiVersion.split("/", 2) as [string, string] : ["", apiVersion];
  if (group === KUBEADM_GROUP) {
    const wanted = kubeadmApiFor(version);
    const removedIn = OLD_APIS[ver];
    if (removedIn !== undefined && version.minor >= removedIn)
      fail(`${where}: your configuration file uses an old API spec: "${apiVersion}". Please use kubeadm v1.${removedIn - 1} instead and run 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', which will write the new, similar spec using a newer API version.`);
    if (apiVersion !== wanted && (removedIn !== undefined || (ver === "v1beta3" && wanted.endsWith("v1beta4"))))
      fail(`${where}: your configuration file uses a deprecated API spec: "${apiVersion}". Please use 'kubeadm config migrate --old-config old.yaml --new-config new.yaml', which will write the new, similar spec using a newer API version. (The stand-in for Kubernetes ${version.text} accepts only ${wanted}; real kubeadm would warn and go on.)`);
    if (apiVersion !== wanted) noKind(where, kind, apiVersion);
  }
  if (!SCHEMAS[`${apiVersion}/${kind}`]) noKind(where, kind, apiVersion);
  return { group, version: ver, kind };
}

/** Parse and strictly decode every document; returns them by kind. */
export function readDocs(text: string, source: string, version: Semver): Map<string, Doc> {
  const docs = YAML.parseAllDocuments(text);
  const byKind = new Map<string, Doc>();
  docs.forEach((d, i) => {
    const where = `${source} (document ${i + 1})`;
    if (d.errors.length) fail(`${where}: invalid YAML: ${d.errors[0]!.message}`);
    const doc = d.toJS();
    if (doc === null || doc === undefined) return;
    if (typeof doc !== "object" || Array.isArray(doc)) fail(`${where}: expected a mapping with apiVersion and kind`);
    const gvk = checkGvk(doc, version, where);
    if (byKind.has(gvk.kind)) fail(`${where}: invalid configuration: kind "${gvk.kind}" is specified twice in YAML file`);
    const problems = new DecodeProblems(gvk, version.minor <= 23);
    checkObject(doc, SCHEMAS[`${doc.apiVersion}/${gvk.kind}`]!, "", problems);
    if (problems.items.length) fail(`${where}: ${problems.items.join("\n")}`);
    byKind.set(gvk.kind, doc);
  });
  return byKind;
}

export function readConfigFile(file: string, version: Semver): Map<string, Doc> {
  let text: string;
  try {
    text = fs.readFileSync(rooted(file), "utf8");
  } catch (e) {
    return fail(`unable to read config from "${file}": ${(e as Error).message}`);
  }
  return readDocs(text, file, version);
}

function validCidr(c: string) {
  const [ip, bits] = c.split("/");
  return ip !== undefined && net.isIP(ip) !== 0 && bits !== undefined && /^\d+$/.test(bits) && +bits <= (net.isIPv4(ip) ? 32 : 128);
}

/** Semantic checks and defaults for ClusterConfiguration (validation.go's messages). */
export function clusterModel(doc: Doc | undefined, standin: Semver): ClusterModel {
  const d = doc ?? { apiVersion: kubeadmApiFor(standin), kind: "ClusterConfiguration" };
  const errs: string[] = [];
  let version = standin;
  if (d.kubernetesVersion === undefined) {
    console.error(`W [version] could not fetch a Kubernetes version from the internet: air-gapped; falling back to the local client version: ${standin.text}`);
  } else {
    version = parseVersion(String(d.kubernetesVersion), "kubernetesVersion");
    if (version.text !== standin.text)
      errs.push(`kubernetesVersion: Invalid value: "${d.kubernetesVersion}": this stand-in is kubeadm ${standin.text} and its kubelet runs ${standin.text}; build the bundle's stand-in with KUBE_STANDIN_VERSION=${version.text} or ask for ${standin.text}`);
  }
  const net_ = d.networking ?? {};
  const serviceSubnet = net_.serviceSubnet ?? "10.96.0.0/12";
  if (!validCidr(serviceSubnet)) errs.push(`networking.serviceSubnet: Invalid value: "${serviceSubnet}": couldn't parse subnet`);
  if (net_.podSubnet !== undefined && !validCidr(net_.podSubnet)) errs.push(`networking.podSubnet: Invalid value: "${net_.podSubnet}": couldn't parse subnet`);
  const dnsDomain = net_.dnsDomain ?? "cluster.local";
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(dnsDomain)) errs.push(`networking.dnsDomain: Invalid value: "${dnsDomain}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
  if (d.controlPlaneEndpoint !== undefined && !splitHostPort(d.controlPlaneEndpoint))
    errs.push(`controlPlaneEndpoint: Invalid value: "${d.controlPlaneEndpoint}": must be a host or IP with an optional port`);
  let etcdExternal: EtcdExternal | undefined;
  const e = d.etcd ?? {};
  if (e.local && e.external) errs.push(`etcd: Invalid value: "": either .Etcd.Local or .Etcd.External is required, not both`);
  if (e.external) {
    const x = e.external;
    if (!Array.isArray(x.endpoints) || x.endpoints.length === 0) errs.push(`etcd.external.endpoints: Required value: the list of external etcd endpoints must not be empty`);
    for (const ep of x.endpoints ?? []) if (!/^https?:\/\/[^/\s]+$/.test(ep)) errs.push(`etcd.external.endpoints: Invalid value: "${ep}": URL parse error, expected scheme://host:port`);
    const https = (x.endpoints ?? []).some((ep: string) => ep.startsWith("https://"));
    for (const f of ["caFile", "certFile", "keyFile"] as const)
      if (https && !x[f]) errs.push(`etcd.external.${f}: Required value: https endpoints need caFile, certFile and keyFile together`);
    etcdExternal = { endpoints: x.endpoints ?? [], caFile: x.caFile ?? "", certFile: x.certFile ?? "", keyFile: x.keyFile ?? "" };
  }
  if (errs.length) fail(errs.join("\n"));
  return {
    raw: { ...d, kubernetesVersion: version.text },
    kubernetesVersion: version,
    controlPlaneEndpoint: d.controlPlaneEndpoint,
    imageRepository: d.imageRepository || defaultImageRepository(version),
    etcdExternal,
    podSubnet: net_.podSubnet,
    serviceSubnet,
    dnsDomain,
    certSANs: d.apiServer?.certSANs ?? [],
    certificatesDir: d.certificatesDir ?? "/etc/kubernetes/pki",
    clusterName: d.clusterName ?? "kubernetes",
    extraArgs: { apiServer: argsOf(d.apiServer?.extraArgs), controllerManager: argsOf(d.controllerManager?.extraArgs), scheduler: argsOf(d.scheduler?.extraArgs) },
  };
}

function nodeRegistrationModel(d: Doc | undefined, errs: string[]): NodeRegistrationModel {
  const n = d ?? {};
  const name = n.name ?? hostName();
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name))
    errs.push(`nodeRegistration.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
  if (n.criSocket !== undefined && !/^(unix:\/\/)?\/.+\.sock$/.test(n.criSocket))
    errs.push(`nodeRegistration.criSocket: Invalid value: "${n.criSocket}": the CRI socket must be a path to a .sock file, optionally with unix://`);
  if (n.imagePullPolicy !== undefined && !["Always", "IfNotPresent", "Never"].includes(n.imagePullPolicy))
    errs.push(`nodeRegistration.imagePullPolicy: Unsupported value: "${n.imagePullPolicy}": supported values: "Always", "IfNotPresent", "Never"`);
  return { name, criSocket: n.criSocket, imagePullPolicy: n.imagePullPolicy, taints: n.taints === undefined ? [] : n.taints, ignorePreflightErrors: n.ignorePreflightErrors ?? [], kubeletExtraArgs: argsOf(n.kubeletExtraArgs) };
}

function endpointModel(d: Doc | undefined, errs: string[], field: string) {
  const advertiseAddress = d?.advertiseAddress ?? defaultAddress();
  const bindPort = d?.bindPort ?? 6443;
  if (!net.isIP(advertiseAddress)) errs.push(`${field}.advertiseAddress: Invalid value: "${advertiseAddress}": cannot parse IP address`);
  if (!(bindPort >= 1 && bindPort <= 65535)) errs.push(`${field}.bindPort: Invalid value: ${bindPort}: port number must be between 1 and 65535, inclusive`);
  return { advertiseAddress, bindPort };
}

function tokenModel(t: Doc, i: number, errs: string[]): BootstrapTokenModel {
  const at = `bootstrapTokens[${i}]`;
  if (typeof t.token !== "string") errs.push(`${at}.token: Required value: a bootstrap token needs a token of the form [a-z0-9]{6}.[a-z0-9]{16}`);
  else if (!TOKEN_RE.test(t.token)) errs.push(`${at}.token: Invalid value: "${t.token}": the bootstrap token "${t.token}" was not of the form "\\A([a-z0-9]{6})\\.([a-z0-9]{16})\\z"`);
  const ttlMs = t.ttl === undefined ? 24 * 3_600_000 : parseDuration(t.ttl) ?? 0;
  if (ttlMs < 0) errs.push(`${at}.ttl: Invalid value: "${t.ttl}": the TTL must not be negative`);
  const usages: string[] = t.usages ?? ["signing", "authentication"];
  for (const u of usages) if (!["signing", "authentication"].includes(u)) errs.push(`${at}.usages: Invalid value: "${u}": unknown bootstrap token usage, valid are signing and authentication`);
  const groups: string[] = t.groups ?? ["system:bootstrappers:kubeadm:default-node-token"];
  for (const g of groups) if (!/^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/.test(g)) errs.push(`${at}.groups: Invalid value: "${g}": bootstrap group must match system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]`);
  return { token: t.token, ttlMs, usages, groups, description: t.description };
}

export const CERT_KEY_RE = /^[0-9a-f]{64}$/;

export function checkCertificateKey(key: string, where: string) {
  if (!CERT_KEY_RE.test(key)) fail(`${where}: invalid certificate key: must be 64 hexadecimal characters (a 32-byte AES key, as 'kubeadm certs certificate-key' prints)`);
}

export function initModel(docs: Map<string, Doc>, standin: Semver): InitModel {
  if (docs.has("JoinConfiguration")) fail(`kubeadm init: the configuration holds a JoinConfiguration; kubeadm init reads InitConfiguration and ClusterConfiguration only`);
  const init = docs.get("InitConfiguration") ?? {};
  const errs: string[] = [];
  const cluster = clusterModel(docs.get("ClusterConfiguration"), standin);
  const node = nodeRegistrationModel(init.nodeRegistration, errs);
  const ep = endpointModel(init.localAPIEndpoint, errs, "localAPIEndpoint");
  const bootstrapTokens = (init.bootstrapTokens ?? [{}]).map((t: Doc, i: number) => (init.bootstrapTokens ? tokenModel(t, i, errs) : null)).filter(Boolean);
  const timeout = init.timeouts?.controlPlaneComponentHealthCheck ?? cluster.raw.apiServer?.timeoutForControlPlane ?? "4m0s";
  const kubelet = docs.get("KubeletConfiguration") ?? { apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration" };
  if (kubelet.cgroupDriver !== undefined && !["systemd", "cgroupfs"].includes(kubelet.cgroupDriver))
    errs.push(`KubeletConfiguration.cgroupDriver: Invalid value: "${kubelet.cgroupDriver}": must be systemd or cgroupfs`);
  if (init.certificateKey !== undefined && !CERT_KEY_RE.test(init.certificateKey)) errs.push(`certificateKey: Invalid value: "<redacted>": must be 64 hexadecimal characters`);
  if (errs.length) fail(errs.join("\n"));
  return {
    cluster, node, ...ep, bootstrapTokens, certificateKey: init.certificateKey, skipPhases: init.skipPhases ?? [],
    controlPlaneTimeoutMs: parseDuration(timeout) ?? 240_000, kubelet, kubeProxy: docs.get("KubeProxyConfiguration"),
  };
}

export function joinModel(docs: Map<string, Doc>): JoinModel {
  const j = docs.get("JoinConfiguration");
  if (!j) fail(`kubeadm join --config: the file holds no JoinConfiguration document`);
  for (const k of docs.keys()) if (k !== "JoinConfiguration") fail(`kubeadm join --config: unexpected ${k} document; join reads only JoinConfiguration (the cluster's configuration comes from the cluster)`);
  const errs: string[] = [];
  const node = nodeRegistrationModel(j!.nodeRegistration, errs);
  const bt = j!.discovery?.bootstrapToken;
  if (!bt && !j!.discovery?.file) errs.push(`discovery: Invalid value: "": bootstrapToken or file must be set`);
  if (bt && (typeof bt.token !== "string" || !TOKEN_RE.test(bt.token))) errs.push(`discovery.bootstrapToken.token: Invalid value: "${bt.token ?? ""}": the bootstrap token is invalid`);
  if (bt && !bt.apiServerEndpoint) errs.push(`discovery.bootstrapToken.apiServerEndpoint: Required value: the API server endpoint to discover the cluster from`);
  let controlPlane: JoinModel["controlPlane"];
  if (j!.controlPlane) {
    const ep = j!.controlPlane.localAPIEndpoint ? endpointModel(j!.controlPlane.localAPIEndpoint, errs, "controlPlane.localAPIEndpoint") : { advertiseAddress: undefined, bindPort: 6443 };
    controlPlane = { ...ep, certificateKey: j!.controlPlane.certificateKey };
  }
  if (errs.length) fail(errs.join("\n"));
  return {
    node, endpoint: bt?.apiServerEndpoint, token: bt?.token, caCertHashes: bt?.caCertHashes ?? [],
    unsafeSkipCAVerification: bt?.unsafeSkipCAVerification ?? false, controlPlane, skipPhases: j!.skipPhases ?? [],
    caCertPath: j!.caCertPath ?? "/etc/kubernetes/pki/ca.crt",
  };
}

export const standin = () => parseVersion(standinVersion(), "stand-in version");
