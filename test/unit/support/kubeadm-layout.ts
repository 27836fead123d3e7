// A kubeadm + external-etcd certificate layout of the lab's nodes, made with src/pki in memory:
// what `kubeadm init/join` and our etcd phase leave behind, for check-certs tests to write out and break.
import { createCa, issueCert, loadCa, planEtcdPki, type CertAndKey } from "../../../src/pki/index.ts";
import type { ClusterConfig } from "../../../src/config/types.ts";

export type Files = Record<string, string>;
export type Layout = Record<string, Files>;

export const kubeconfig = (cfg: ClusterConfig, user: string, ca: string, cert: CertAndKey | { certPath: string; keyPath: string }) =>
  [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: lab",
    "  cluster:",
    `    certificate-authority-data: ${btoa(ca)}`,
    `    server: https://${cfg.loadBalancer.vip}:9443`,
    "contexts:",
    `- name: ${user}@lab`,
    "  context: {cluster: lab, user: " + user + "}",
    `current-context: ${user}@lab`,
    "users:",
    `- name: ${user}`,
    "  user:",
    ...("certPem" in cert
      ? [`    client-certificate-data: ${btoa(cert.certPem)}`, `    client-key-data: ${btoa(cert.keyPem)}`]
      : [`    client-certificate: ${cert.certPath}`, `    client-key: ${cert.keyPath}`]),
    "",
  ].join("\n");

export const pair = (files: Files, base: string, p: CertAndKey) => {
  files[`${base}.crt`] = p.certPem;
  files[`${base}.key`] = p.keyPem;
};

/** What kubeadm init/join plus our etcd phase leave on the lab's nodes. Shared leaves are issued once to keep keygen short. */
export async function kubeadmLayout(cfg: ClusterConfig) {
  const k8sCaPair = await createCa({ commonName: "kubernetes" });
  const k8sCa = await loadCa(k8sCaPair, "ca");
  const fpCaPair = await createCa({ commonName: "front-proxy-ca" });
  const fpCa = await loadCa(fpCaPair, "front-proxy-ca");
  const etcd = await planEtcdPki(cfg);
  const client = (cn: string, o?: string) => issueCert(k8sCa, { commonName: cn, organizations: o ? [o] : [], usages: ["client"] });
  const shared = {
    kubeletClient: await client("apiserver-kubelet-client", "kubeadm:cluster-admins"),
    frontProxyClient: await issueCert(fpCa, { commonName: "front-proxy-client", usages: ["client"] }),
    admin: await client("kubernetes-admin", "kubeadm:cluster-admins"),
    controllerManager: await client("system:kube-controller-manager"),
    scheduler: await client("system:kube-scheduler"),
  };
  const kubeletCaPair = await createCa({ commonName: "node-ca@1700000000" });
  const kubeletServing = await issueCert(await loadCa(kubeletCaPair, "kubelet-ca"), { commonName: "node@1700000000", sans: ["node"], usages: ["server"] });
  const layout: Layout = {};
  for (const h of cfg.hosts) {
    const f: Files = (layout[h.name] = {});
    const kubeletClient = await client(`system:node:${h.name}`, "system:nodes");
    f["/etc/kubernetes/pki/ca.crt"] = k8sCaPair.certPem;
    f["/var/lib/kubelet/pki/kubelet-client-current.pem"] = kubeletClient.certPem + kubeletClient.keyPem;
    f["/var/lib/kubelet/pki/kubelet.crt"] = kubeletServing.certPem + kubeletCaPair.certPem;
    f["/var/lib/kubelet/pki/kubelet.key"] = kubeletServing.keyPem;
    const current = "/var/lib/kubelet/pki/kubelet-client-current.pem";
    f["/etc/kubernetes/kubelet.conf"] = kubeconfig(cfg, `system:node:${h.name}`, k8sCaPair.certPem, { certPath: current, keyPath: current });
    if (!h.roles.includes("control-plane")) continue;
    pair(f, "/etc/kubernetes/pki/ca", k8sCaPair);
    pair(f, "/etc/kubernetes/pki/front-proxy-ca", fpCaPair);
    pair(f, "/etc/kubernetes/pki/apiserver", await issueCert(k8sCa, {
      commonName: "kube-apiserver",
      sans: [h.name, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "10.96.0.1", h.address, cfg.loadBalancer.vip],
      usages: ["server"],
    }));
    pair(f, "/etc/kubernetes/pki/apiserver-kubelet-client", shared.kubeletClient);
    pair(f, "/etc/kubernetes/pki/front-proxy-client", shared.frontProxyClient);
    f["/etc/kubernetes/pki/sa.key"] = k8sCaPair.keyPem;
    f["/etc/kubernetes/admin.conf"] = kubeconfig(cfg, "kubernetes-admin", k8sCaPair.certPem, shared.admin);
    f["/etc/kubernetes/controller-manager.conf"] = kubeconfig(cfg, "system:kube-controller-manager", k8sCaPair.certPem, shared.controllerManager);
    f["/etc/kubernetes/scheduler.conf"] = kubeconfig(cfg, "system:kube-scheduler", k8sCaPair.certPem, shared.scheduler);
  }
  for (const p of etcd.files.filter((p) => !p.state)) layout[p.node]![p.path] = p.content;
  const etcdCaKey = etcd.files.find((p) => p.path.endsWith("/pki/etcd-ca.key"))!.content;
  const etcdCa = await loadCa({ certPem: etcd.caCertPem, keyPem: etcdCaKey }, "etcd-ca");
  return { layout, k8sCa, k8sCaPair, fpCa, fpCaPair, etcdCa };
}
