// `kubeadm init --config F --upload-certs --certificate-key K [--skip-phases ...]`
import { randomBytes } from "node:crypto";
import { fail } from "../lib/errors.ts";
import { apiserverBindHost } from "../lib/env.ts";
import { bool, list, parseFlags, str } from "../lib/flags.ts";
import { loadKubeconfig } from "../lib/kubeconfig.ts";
import { call, retry } from "../lib/api.ts";
import { imageList } from "../lib/versions.ts";
import { checkCertificateKey, initModel, readConfigFile, standin } from "../config/load.ts";
import { phase, Preflight } from "./phase.ts";
import { KUBE_DIR, MANIFESTS, endpointOf, kubeletConfig, readFile, startKubelet, waitApiserver, writeCerts, writeKubeconfigs, writeManifests, type NodeFacts } from "./node.ts";
import { applyAddons, joinCommand, markControlPlane, putClusterInfo, putToken, randomToken, uploadCerts, uploadConfig } from "./cluster.ts";

export const INIT_PHASES = ["preflight", "certs", "kubeconfig", "kubelet-start", "control-plane", "etcd", "upload-config", "upload-certs", "mark-control-plane", "bootstrap-token", "kubelet-finalize", "addon", "addon/coredns", "addon/kube-proxy", "show-join-command"];
const MIX_OK = new Set(["config", "upload-certs", "certificate-key", "skip-phases", "ignore-preflight-errors", "v", "skip-token-print", "skip-certificate-key-print"]);

export function checkPhases(skips: string[], valid: string[]) {
  for (const s of skips) if (!valid.includes(s) && !valid.some((v) => s.startsWith(v + "/"))) fail(`phase "${s}" not found; valid phases: ${valid.join(", ")}`);
}

export async function init(argv: string[]): Promise<object> {
  const p = parseFlags(argv, {
    config: "string", "upload-certs": "bool", "certificate-key": "string", "skip-phases": "list", "ignore-preflight-errors": "list", v: "string",
    "skip-token-print": "bool", "skip-certificate-key-print": "bool", "apiserver-advertise-address": "string", "control-plane-endpoint": "string",
    "image-repository": "string", "kubernetes-version": "string", "pod-network-cidr": "string", "node-name": "string", token: "string",
  });
  const file = str(p, "config");
  if (!file) fail("the kube stand-in implements `kubeadm init --config FILE` only: pass the rendered kubeadm configuration with --config");
  const mixed = Object.keys(p.flags).filter((f) => !MIX_OK.has(f));
  if (mixed.length) fail(`can not mix '--config' with arguments [${mixed.join(" ")}]`);
  const m = initModel(readConfigFile(file!, standin()), standin());
  const c = m.cluster;
  if (!c.etcdExternal) fail(`${file}: the kube stand-in runs with an external etcd only; set etcd.external (endpoints, caFile, certFile, keyFile) in ClusterConfiguration`);
  const key = str(p, "certificate-key") ?? m.certificateKey ?? randomBytes(32).toString("hex");
  checkCertificateKey(key, str(p, "certificate-key") ? "--certificate-key" : "certificateKey");
  const skip = [...list(p, "skip-phases"), ...m.skipPhases];
  checkPhases(skip, INIT_PHASES);
  const runs = (name: string) => !skip.includes(name) && !skip.includes(name.split("/")[0]!);
  const f: NodeFacts = { cluster: c, nodeName: m.node.name, advertiseAddress: m.advertiseAddress, bindPort: m.bindPort };
  const server = endpointOf(c, m.advertiseAddress, m.bindPort);
  const images = imageList({ version: c.kubernetesVersion, imageRepository: c.imageRepository, externalEtcd: true });

  console.log(`[init] Using Kubernetes version: ${c.kubernetesVersion.text}`);
  let pulls: { present: string[]; pulled: string[] } | undefined;
  if (runs("preflight"))
    await phase("preflight", async () => {
      console.log("[preflight] Running pre-flight checks");
      const pf = new Preflight([...list(p, "ignore-preflight-errors"), ...m.node.ignorePreflightErrors]);
      for (const n of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) pf.fileAvailable(`${MANIFESTS}/${n}.yaml`);
      pf.nodeSettings(m.kubelet.failSwapOn !== false);
      await pf.portFree(apiserverBindHost(m.advertiseAddress, c.extraArgs.apiServer["bind-address"]), m.bindPort);
      await pf.externalEtcd(c.etcdExternal!);
      pulls = await pf.imagesPullable(images, m.node);
      pf.finish();
    });
  if (runs("certs")) await phase("certs", () => writeCerts(f, true));
  if (runs("kubeconfig")) await phase("kubeconfig", () => writeKubeconfigs(f, ["admin.conf", ...(c.kubernetesVersion.minor >= 29 ? ["super-admin.conf"] : []), "kubelet.conf", "controller-manager.conf", "scheduler.conf"], server));
  const kubelet = kubeletConfig(c, m.kubelet);
  if (runs("kubelet-start")) await phase("kubelet-start", () => startKubelet(c, kubelet, m.node));
  if (runs("control-plane")) await phase("control-plane", async () => writeManifests(f));
  await phase("wait-control-plane", async () => {
    console.log(`[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory "${MANIFESTS}". This can take up to ${Math.round(m.controlPlaneTimeoutMs / 60000)}m0s`);
    await waitApiserver(f, m.controlPlaneTimeoutMs);
  });
  const api = loadKubeconfig(`${KUBE_DIR}/admin.conf`);
  // Real kubeadm waits with the admin kubeconfig's client, i.e. through controlPlaneEndpoint (a load
  // balancer may need a few health checks before it sends traffic to the new apiserver).
  await retry(() => call(api, "GET", "/readyz", undefined, { timeoutMs: 3000 }), m.controlPlaneTimeoutMs, 1000).catch((e) =>
    fail(`couldn't initialize a Kubernetes cluster: the API server is not reachable through ${api.server}: ${(e as Error).message}`),
  );
  if (runs("upload-config")) await phase("upload-config", () => uploadConfig(api, c, kubelet));
  if (runs("upload-certs") && p.flags["upload-certs"]) await phase("upload-certs", () => uploadCerts(api, c, key));
  if (runs("mark-control-plane")) await phase("mark-control-plane", () => markControlPlane(api, c, f.nodeName, m.controlPlaneTimeoutMs));
  const tokens = m.bootstrapTokens.length ? m.bootstrapTokens : [{ token: randomToken(), ttlMs: 24 * 3_600_000, usages: ["signing", "authentication"], groups: ["system:bootstrappers:kubeadm:default-node-token"] }];
  if (runs("bootstrap-token"))
    await phase("bootstrap-token", async () => {
      for (const t of tokens) {
        console.log(`[bootstrap-token] Using token: ${t.token}`);
        await putToken(api, t);
      }
      console.log("[bootstrap-token] Configuring bootstrap tokens, cluster-info ConfigMap, RBAC Roles");
      await putClusterInfo(api, c, server);
    });
  if (runs("addon")) await phase("addon", () => applyAddons(api, c));

  const ca = readFile(`${c.certificatesDir}/ca.crt`);
  const join = joinCommand(server, tokens[0]!.token, ca);
  console.log(`\nYour Kubernetes control-plane has initialized successfully!\n
To start using your cluster, you need to run the following as a regular user:\n
  mkdir -p $HOME/.kube
  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config
  sudo chown $(id -u):$(id -g) $HOME/.kube/config\n
Alternatively, if you are the root user, you can run:\n
  export KUBECONFIG=/etc/kubernetes/admin.conf\n
You should now deploy a pod network to the cluster.\n
You can now join any number of the control-plane node running the following command on each as root:\n
  ${join} \\\n\t--control-plane --certificate-key ${bool(p, "skip-certificate-key-print") ? "<value withheld>" : key}\n
Please note that the certificate-key gives access to cluster sensitive data, keep it secret!
As a safeguard, uploaded-certs will be deleted in two hours; If necessary, you can use
"kubeadm init phase upload-certs --upload-certs" to reload certs afterward.\n
Then you can join any number of worker nodes by running the following on each as root:\n
${join}`);
  return {
    command: "init", nodeName: f.nodeName, advertiseAddress: f.advertiseAddress, controlPlaneEndpoint: server, imageRepository: c.imageRepository,
    kubernetesVersion: c.kubernetesVersion.text, apiVersion: c.raw.apiVersion, uploadCerts: p.flags["upload-certs"] === true, skipPhases: skip,
    tokenIds: tokens.map((t) => t.token.split(".")[0]), etcdEndpoints: c.etcdExternal!.endpoints,
    imagesPresent: pulls?.present, imagesPulled: pulls?.pulled,
  };
}
