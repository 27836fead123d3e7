// kubeadm configuration files, rendered from assets/kubeadm/ for the target version:
// v1beta3 for Kubernetes 1.22-1.30, v1beta4 from 1.31 (timeouts moved, see the templates).
import type { ClusterConfig, HostSpec } from "../../config/types.ts";
import { controlPlanes, etcdMembers } from "../../config/types.ts";
import { render } from "../../templates/render.ts";
import { KUBEADM_ETCD_CLIENT } from "../../pki/etcd-pki.ts";
import { APISERVER_PORT } from "../../config/ports.ts";
import { etcdClientUrl } from "../../cluster/endpoints.ts";
import initV3 from "../../../assets/kubeadm/init-v1beta3.yaml" with { type: "text" };
import joinV3 from "../../../assets/kubeadm/join-v1beta3.yaml" with { type: "text" };
import initV4 from "../../../assets/kubeadm/init-v1beta4.yaml" with { type: "text" };
import joinV4 from "../../../assets/kubeadm/join-v1beta4.yaml" with { type: "text" };

export interface JoinSecrets {
  token: string;
  certificateKey: string;
}

const minor = (version: string) => Number(version.split(".")[1]);
export const kubeadmApiVersion = (version: string) => (minor(version) >= 31 ? "v1beta4" : "v1beta3");
const templates = (version: string) => (kubeadmApiVersion(version) === "v1beta4" ? { init: initV4, join: joinV4 } : { init: initV3, join: joinV3 });

export function criSocket(config: ClusterConfig): string {
  if (config.kubernetes.runtime === "docker") return minor(config.kubernetes.version) < 24 ? "/var/run/dockershim.sock" : "unix:///var/run/cri-dockerd.sock";
  return "unix:///run/containerd/containerd.sock";
}

const list = (items: string[], indent: string) => items.map((i) => `${indent}- "${i}"`).join("\n");

export function renderInitConfig(config: ClusterConfig, node: HostSpec, secrets: JoinSecrets, imageRepository: string): string {
  const lb = config.loadBalancer;
  const k = config.kubernetes;
  const masters = controlPlanes(config);
  return render(templates(k.version).init, {
    token: secrets.token,
    tokenTTL: k.tokenTTL,
    certificateKey: secrets.certificateKey,
    clusterName: config.name,
    advertiseAddress: node.address,
    nodeName: node.name,
    criSocket: criSocket(config),
    kubernetesVersion: k.version,
    vip: lb.vip,
    lbPort: lb.port,
    imageRepository,
    // Every name a client may use for the apiserver, so the certificate holds through any of them.
    certSANs: list([lb.vip, ...masters.flatMap((m) => [m.address, m.name])], "  "),
    etcdEndpoints: list(etcdMembers(config).map(etcdClientUrl), "    "),
    etcdCaFile: KUBEADM_ETCD_CLIENT.caFile,
    etcdCertFile: KUBEADM_ETCD_CLIENT.certFile,
    etcdKeyFile: KUBEADM_ETCD_CLIENT.keyFile,
    dnsDomain: k.dnsDomain,
    podSubnet: k.podSubnet,
    serviceSubnet: k.serviceSubnet,
  }, `kubeadm init config (${kubeadmApiVersion(k.version)})`);
}

export function renderJoinConfig(config: ClusterConfig, node: HostSpec, secrets: JoinSecrets, caCertHash: string, controlPlane: boolean): string {
  const lb = config.loadBalancer;
  const cp = controlPlane
    ? `controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: ${node.address}\n    bindPort: ${APISERVER_PORT}\n  certificateKey: "${secrets.certificateKey}"`
    : "";
  return render(templates(config.kubernetes.version).join, {
    vip: lb.vip,
    lbPort: lb.port,
    token: secrets.token,
    caCertHash,
    nodeName: node.name,
    criSocket: criSocket(config),
    controlPlane: cp,
  }, `kubeadm join config (${kubeadmApiVersion(config.kubernetes.version)})`);
}
