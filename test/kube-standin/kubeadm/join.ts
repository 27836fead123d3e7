// `kubeadm join ENDPOINT --token T --discovery-token-ca-cert-hash sha256:H [--control-plane --certificate-key K]`
// or `kubeadm join --config F` (JoinConfiguration).
import YAML from "yaml";
import { fail } from "../lib/errors.ts";
import { bool, list, parseFlags, str } from "../lib/flags.ts";
import { call, retry, type ApiError } from "../lib/api.ts";
import { clientFromKubeconfig, loadKubeconfig, renderKubeconfig, type Client } from "../lib/kubeconfig.ts";
import { detachedVerify } from "../lib/jws.ts";
import { newCsr, spkiPin } from "../lib/pki.ts";
import { imageList } from "../lib/versions.ts";
import { apiserverBindHost, hostName } from "../lib/env.ts";
import { checkCertificateKey, clusterModel, joinModel, readConfigFile, readDocs, standin, type ClusterModel, type JoinModel } from "../config/load.ts";
import { defaultAddress, splitHostPort, TOKEN_RE } from "../config/values.ts";
import { phase, Preflight } from "./phase.ts";
import { KUBE_DIR, MANIFESTS, startKubelet, waitApiserver, writeCerts, writeFile, writeKubeconfigs, writeManifests, type NodeFacts } from "./node.ts";
import { downloadCerts, kubeletConfigMapName, markControlPlane } from "./cluster.ts";
import { checkPhases } from "./init.ts";

const JOIN_PHASES = ["preflight", "control-plane-prepare", "kubelet-start", "control-plane-join", "wait-control-plane"];
const MIX_OK = new Set(["config", "ignore-preflight-errors", "skip-phases", "v"]);
const HASH_RE = /^sha256:[0-9a-f]{64}$/;
const TIMEOUT_MS = 4 * 60_000;

function modelFromFlags(p: ReturnType<typeof parseFlags>): JoinModel {
  const token = str(p, "token") ?? str(p, "discovery-token");
  const endpoint = p.args[0];
  if (!endpoint) fail("discovery: Invalid value: \"\": bootstrapToken or file must be set (give the API server endpoint, e.g. kubeadm join 192.168.217.100:9443 --token ...)");
  if (!token || !TOKEN_RE.test(token)) fail(`discovery.bootstrapToken.token: Invalid value: "${token ?? ""}": the bootstrap token is invalid`);
  const cp = bool(p, "control-plane");
  const name = str(p, "node-name") ?? hostName();
  return {
    node: { name, criSocket: str(p, "cri-socket"), taints: [], ignorePreflightErrors: [], kubeletExtraArgs: {} },
    endpoint, token, caCertHashes: list(p, "discovery-token-ca-cert-hash"), unsafeSkipCAVerification: bool(p, "discovery-token-unsafe-skip-ca-verification"),
    controlPlane: cp ? { advertiseAddress: str(p, "apiserver-advertise-address"), bindPort: Number(str(p, "apiserver-bind-port") ?? 6443), certificateKey: str(p, "certificate-key") } : undefined,
    skipPhases: [], caCertPath: "/etc/kubernetes/pki/ca.crt",
  };
}

/** Token discovery: fetch cluster-info without trusting the server, check the token's JWS and the CA pin, then re-fetch trusting that CA. */
async function discover(m: JoinModel): Promise<{ server: string; ca: string }> {
  const [id, secret] = m.token!.split(".") as [string, string];
  const endpoint = `https://${m.endpoint}`;
  console.log("[preflight] Running pre-flight checks");
  const path = "/api/v1/namespaces/kube-public/configmaps/cluster-info";
  const cm = await retry(() => call({ server: endpoint }, "GET", path, undefined, { insecure: true }), 60_000, 2000).catch((e) => {
    throw new Error(`couldn't validate the identity of the API Server: Get "${endpoint}${path}": ${(e as Error).message}`);
  });
  const kubeconfig: string = cm.data?.kubeconfig ?? "";
  const jws = cm.data?.[`jws-kubeconfig-${id}`];
  if (!jws) throw new Error(`couldn't validate the identity of the API Server: token id "${id}" is invalid for this cluster or it has expired. Use "kubeadm token create" on the control-plane node to create a new valid token`);
  if (!detachedVerify(jws, kubeconfig, id, secret)) throw new Error("couldn't validate the identity of the API Server: failed to verify JWS signature of received cluster info object, can't trust this API Server");
  const found = clientFromKubeconfig(kubeconfig, "cluster-info");
  const ca = found.ca ?? "";
  if (!m.unsafeSkipCAVerification) {
    const pin = spkiPin(ca);
    if (!m.caCertHashes.includes(pin))
      throw new Error(`couldn't validate the identity of the API Server: cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "${pin}" are pinned`);
  }
  // The second fetch proves the endpoint serves a certificate of that CA for the name we dialled.
  const secure = await call({ server: endpoint, ca }, "GET", path).catch((e) => {
    throw new Error(`couldn't validate the identity of the API Server: the endpoint ${m.endpoint} does not present a certificate of the pinned CA: ${(e as Error).message}`);
  });
  if (secure.data?.kubeconfig !== kubeconfig) throw new Error("couldn't validate the identity of the API Server: cluster-info changed between the insecure and the pinned fetch");
  console.log(`[discovery] Cluster info signature and contents are valid and TLS certificate validates against pinned roots, will use API Server "${found.server}"`);
  return { server: found.server, ca };
}

async function readClusterConfig(api: Client): Promise<ClusterModel> {
  console.log("[preflight] Reading configuration from the cluster...");
  console.log("[preflight] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'");
  const cm = await call(api, "GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config");
  const docs = readDocs(cm.data.ClusterConfiguration, "ConfigMap kube-system/kubeadm-config", standin());
  return clusterModel(docs.get("ClusterConfiguration"), standin());
}

/** The kubelet's TLS bootstrap, done by kubeadm here: a CSR signed through the API with the bootstrap token. */
async function kubeletCredentials(api: Client, c: ClusterModel, nodeName: string, ca: string) {
  const { csr, key } = await newCsr(`system:node:${nodeName}`, ["system:nodes"]);
  const r = await call(api, "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", {
    apiVersion: "certificates.k8s.io/v1", kind: "CertificateSigningRequest", metadata: { generateName: "csr-" },
    spec: { request: Buffer.from(csr).toString("base64"), signerName: "kubernetes.io/kube-apiserver-client-kubelet", usages: ["digital signature", "key encipherment", "client auth"] },
  });
  const cert = Buffer.from(r.status.certificate, "base64").toString();
  writeFile(`${KUBE_DIR}/kubelet.conf`, renderKubeconfig({ clusterName: c.clusterName, server: api.server, caCert: ca, user: `system:node:${nodeName}`, clientCert: cert, clientKey: key }));
}

export async function join(argv: string[]): Promise<object> {
  const p = parseFlags(argv, {
    config: "string", token: "string", "discovery-token": "string", "tls-bootstrap-token": "string", "discovery-token-ca-cert-hash": "list",
    "discovery-token-unsafe-skip-ca-verification": "bool", "control-plane": "bool", "certificate-key": "string", "apiserver-advertise-address": "string",
    "apiserver-bind-port": "string", "node-name": "string", "cri-socket": "string", "ignore-preflight-errors": "list", "skip-phases": "list", v: "string",
  });
  let m: JoinModel;
  if (str(p, "config")) {
    const mixed = [...Object.keys(p.flags).filter((f) => !MIX_OK.has(f)), ...(p.args.length ? ["(endpoint)"] : [])];
    if (mixed.length) fail(`can not mix '--config' with arguments [${mixed.join(" ")}]`);
    m = joinModel(readConfigFile(str(p, "config")!, standin()));
  } else m = modelFromFlags(p);
  if (!m.endpoint || !splitHostPort(m.endpoint)) fail(`discovery.bootstrapToken.apiServerEndpoint: Invalid value: "${m.endpoint ?? ""}": must be host:port`);
  for (const h of m.caCertHashes) if (!HASH_RE.test(h)) fail(`discovery.bootstrapToken.caCertHashes: Invalid value: "${h}": invalid hash "${h}", expected "sha256:" followed by 64 hex characters`);
  if (!m.caCertHashes.length && !m.unsafeSkipCAVerification)
    fail('discovery.bootstrapToken: Invalid value: "": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue');
  const cp = m.controlPlane;
  if (cp?.certificateKey !== undefined) checkCertificateKey(cp.certificateKey, "--certificate-key");
  const skip = [...list(p, "skip-phases"), ...m.skipPhases];
  checkPhases(skip, JOIN_PHASES);
  const ignore = [...list(p, "ignore-preflight-errors"), ...m.node.ignorePreflightErrors];
  const nodeName = m.node.name;
  const advertise = cp?.advertiseAddress ?? defaultAddress();

  const { server, ca } = await phase("preflight", async () => {
    const pf = new Preflight(ignore);
    pf.fileAvailable(`${KUBE_DIR}/kubelet.conf`);
    pf.nodeSettings(true); // the cluster's KubeletConfiguration is not known yet; kubeadm checks the default
    if (cp) {
      for (const n of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) pf.fileAvailable(`${MANIFESTS}/${n}.yaml`);
      await pf.portFree(apiserverBindHost(advertise), cp.bindPort);
    }
    pf.finish();
    return discover(m);
  });
  const bootstrap: Client = { server, ca, token: m.token };
  let pulls: { present: string[]; pulled: string[] } | undefined;
  const c = await phase("preflight", async () => {
    const c = await readClusterConfig(bootstrap);
    const existing = await call(bootstrap, "GET", `/api/v1/nodes/${nodeName}`).catch((e: ApiError) => (e.status === 404 ? null : Promise.reject(e)));
    if (existing?.status?.conditions?.some((x: any) => x.type === "Ready" && x.status === "True"))
      throw new Error(`a Node with name "${nodeName}" and status "Ready" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node`);
    if (cp) {
      if (!c.controlPlaneEndpoint) throw new Error("unable to add a new control plane instance to a cluster that doesn't have a stable controlPlaneEndpoint address");
      console.log("[preflight] Running pre-flight checks before initializing the new control plane instance");
      const pf = new Preflight(ignore);
      // With a certificate key the etcd client files arrive with kubeadm-certs; they are checked after the download.
      if (!cp.certificateKey) await pf.externalEtcd(c.etcdExternal!);
      pulls = await pf.imagesPullable(imageList({ version: c.kubernetesVersion, imageRepository: c.imageRepository, externalEtcd: !!c.etcdExternal }), m.node);
      pf.finish();
    }
    return c;
  });
  const f: NodeFacts = { cluster: c, nodeName, advertiseAddress: advertise, bindPort: cp?.bindPort ?? 6443 };
  const endpoint = server.replace(/^https:\/\//, "");
  if (cp) {
    await phase("control-plane-prepare", async () => {
      if (cp.certificateKey) {
        await downloadCerts(bootstrap, c, cp.certificateKey);
        const pf = new Preflight(ignore);
        await pf.externalEtcd(c.etcdExternal!);
        pf.finish();
      }
      await writeCerts(f, false);
      await writeKubeconfigs(f, ["admin.conf", "controller-manager.conf", "scheduler.conf"], endpoint);
      writeManifests(f);
    });
  }
  await phase("kubelet-start", async () => {
    // Every joined node keeps the cluster CA where kubelet and operators expect it (caCertPath).
    if (!cp) writeFile(m.caCertPath, ca, 0o644);
    const cm = await call(bootstrap, "GET", `/api/v1/namespaces/kube-system/configmaps/${kubeletConfigMapName(c)}`);
    await kubeletCredentials(bootstrap, c, nodeName, ca);
    await startKubelet(c, YAML.parse(cm.data.kubelet), m.node);
    console.log("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap...");
    await retry(() => call(bootstrap, "GET", `/api/v1/nodes/${nodeName}`), TIMEOUT_MS).catch((e) => {
      throw new Error(`timed out waiting for node ${nodeName} to register: ${(e as Error).message}`);
    });
  });
  if (cp) {
    await phase("control-plane-join", async () => {
      console.log("[control-plane-join] using external etcd - no local stacked instance added");
      await waitApiserver(f, TIMEOUT_MS);
      await markControlPlane(loadKubeconfig(`${KUBE_DIR}/admin.conf`), c, nodeName, TIMEOUT_MS);
    });
    console.log(`\nThis node has joined the cluster and a new control plane instance was created:\n
* Certificate signing request was sent to apiserver and approval was received.
* The Kubelet was informed of the new secure connection details.
* Control plane label and taint were applied to the new node.
* The Kubernetes control plane instances scaled up.\n`);
  } else {
    console.log(`\nThis node has joined the cluster:
* Certificate signing request was sent to apiserver and a response was received.
* The Kubelet was informed of the new secure connection details.\n
Run 'kubectl get nodes' on the control-plane to see this node join the cluster.`);
  }
  return { command: "join", controlPlane: !!cp, nodeName, endpoint: m.endpoint, advertiseAddress: cp ? advertise : undefined, imagesPresent: pulls?.present, imagesPulled: pulls?.pulled };
}
