// The certificate table (src/pki/certlist.ts): the rows hang together, and what issuance, check-certs and
// renew-certs derive from them is what each of them used before the table existed.
import { describe, expect, test } from "bun:test";
import { labCluster, labHost } from "./support/cluster-fixture.ts";
import { CERTIFICATES, certDef, certGlobs, certNodes, expectedCa, expectedSans, backedUpPaths, KUBEADM_ETCD_CLIENT, ETCD_PKI_DIR } from "../../src/pki/index.ts";
import { globWords, readByEtcd } from "../../src/pki/certlist.ts";

const KUBERNETES_GLOBS = [
  "/etc/kubernetes/pki/*.crt",
  "/etc/kubernetes/pki/etcd/*.crt",
  "/etc/k8s-ha-offline/depot-ca.crt",
  "/etc/k8s-ha-offline/pki/depot.crt",
  "/etc/kubernetes/admin.conf",
  "/etc/kubernetes/super-admin.conf",
  "/etc/kubernetes/controller-manager.conf",
  "/etc/kubernetes/scheduler.conf",
  "/etc/kubernetes/kubelet.conf",
  "/var/lib/kubelet/pki/kubelet-client-current.pem",
  "/var/lib/kubelet/pki/kubelet.crt",
];

describe("the rows", () => {
  test("names are unique and every file is in one row only", () => {
    const names = CERTIFICATES.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    const paths = CERTIFICATES.flatMap((d) => d.files.map((f) => f.path));
    expect(new Set(paths).size).toBe(paths.length);
  });

  test("every signed certificate names a CA row that has a copy wherever the certificate is (check-certs judges node by node)", () => {
    for (const d of CERTIFICATES) {
      if (d.kind === "ca" || d.ca === null) continue;
      const ca = certDef(d.ca);
      expect(ca.kind).toBe("ca");
      for (const f of d.files) expect(expectedCa(f.path)).toBeOneOf(ca.files.map((c) => c.path));
    }
  });

  test("what our etcd and depot PKIs issue says what goes in it; what kubeadm or the kubelet issues does not", () => {
    for (const d of CERTIFICATES) expect([d.name, d.issue !== undefined]).toEqual([d.name, d.issuedBy === "etcd-pki" || d.issuedBy === "installer"]);
    for (const d of CERTIFICATES.filter((d) => d.issuedBy === "etcd-pki" && d.kind !== "ca")) expect(d.renewedBy).toBe("renew-certs --etcd");
  });
});

describe("derived", () => {
  test("check-certs reads the Kubernetes files on Kubernetes nodes and etcd's on members, PKI directories whole", () => {
    expect(certGlobs([])).toEqual([]);
    expect(certGlobs(["control-plane"])).toEqual(KUBERNETES_GLOBS);
    expect(certGlobs(["worker"])).toEqual(KUBERNETES_GLOBS);
    expect(certGlobs(["etcd"])).toEqual(["/etc/etcd/pki/*.crt"]);
    expect(certGlobs(["etcd", "control-plane"])).toEqual([...KUBERNETES_GLOBS, "/etc/etcd/pki/*.crt"]);
  });

  test("the CA a file must be signed by: its CA's copy on that node, else its PKI directory's ca.crt", () => {
    const cases: Record<string, string | undefined> = {
      "/etc/etcd/pki/server.crt": "/etc/etcd/pki/ca.crt",
      "/etc/etcd/pki/healthcheck-client.crt": "/etc/etcd/pki/ca.crt",
      "/etc/etcd/pki/stray.crt": "/etc/etcd/pki/ca.crt",
      "/etc/kubernetes/pki/apiserver-etcd-client.crt": "/etc/kubernetes/pki/etcd/ca.crt",
      "/etc/kubernetes/pki/etcd/stray.crt": "/etc/kubernetes/pki/etcd/ca.crt",
      "/etc/kubernetes/pki/front-proxy-client.crt": "/etc/kubernetes/pki/front-proxy-ca.crt",
      "/etc/kubernetes/pki/front-proxy-ca.crt": "/etc/kubernetes/pki/ca.crt",
      "/etc/kubernetes/pki/apiserver.crt": "/etc/kubernetes/pki/ca.crt",
      "/etc/kubernetes/pki/stray.crt": "/etc/kubernetes/pki/ca.crt",
      "/etc/kubernetes/admin.conf": "/etc/kubernetes/pki/ca.crt",
      "/etc/kubernetes/kubelet.conf": "/etc/kubernetes/pki/ca.crt",
      "/var/lib/kubelet/pki/kubelet-client-current.pem": "/etc/kubernetes/pki/ca.crt",
      "/var/lib/kubelet/pki/kubelet.crt": undefined,
      "/etc/k8s-ha-offline/pki/depot.crt": "/etc/k8s-ha-offline/depot-ca.crt",
      "/tmp/elsewhere.crt": undefined,
    };
    for (const [path, ca] of Object.entries(cases)) expect([path, expectedCa(path)]).toEqual([path, ca]);
  });

  test("names check-certs requires: the VIP and the address on the apiserver, name and address on etcd's serving certificates", () => {
    const config = labCluster();
    const m2 = config.hosts[1]!;
    expect(expectedSans(config, m2)).toEqual({
      "/etc/kubernetes/pki/apiserver.crt": [
        { value: "10.77.0.100", what: "the VIP" },
        { value: "10.77.0.12", what: "this node's address" },
      ],
      "/etc/etcd/pki/server.crt": [
        { value: "master2", what: "this node's name" },
        { value: "10.77.0.12", what: "this node's address" },
      ],
      // The one depot certificate names every master (any of them may serve the depot), whichever node holds it.
      "/etc/k8s-ha-offline/pki/depot.crt": [
        { value: "10.77.0.11", what: "the address of master1" },
        { value: "master1", what: "the name of master1" },
        { value: "10.77.0.12", what: "the address of master2" },
        { value: "master2", what: "the name of master2" },
        { value: "10.77.0.13", what: "the address of master3" },
        { value: "master3", what: "the name of master3" },
      ],
      "/etc/etcd/pki/peer.crt": [
        { value: "master2", what: "this node's name" },
        { value: "10.77.0.12", what: "this node's address" },
      ],
    });
  });

  test("renew-certs backs up the PKI directories and kubeconfigs of masters and members, and writes etcd's files with the member", () => {
    expect(backedUpPaths()).toEqual(["etc/kubernetes/pki", "etc/kubernetes/*.conf", "etc/etcd/pki"]);
    const config = labCluster();
    config.hosts.push(labHost("etcd4", "10.77.0.31", ["etcd"]));
    expect(certNodes(config).map((h) => h.name)).toEqual(["master1", "master2", "master3", "etcd4"]);
    expect(readByEtcd("/etc/etcd/pki/server.key")).toBe(true);
    expect(readByEtcd("/etc/etcd/pki/ca.crt")).toBe(true);
    expect(readByEtcd(KUBEADM_ETCD_CLIENT.keyFile)).toBe(false);
    expect(readByEtcd(KUBEADM_ETCD_CLIENT.caFile)).toBe(false);
  });

  test("the paths kubeadm-config and the etcd phase name", () => {
    expect(ETCD_PKI_DIR).toBe("/etc/etcd/pki");
    expect(KUBEADM_ETCD_CLIENT).toEqual({
      caFile: "/etc/kubernetes/pki/etcd/ca.crt",
      certFile: "/etc/kubernetes/pki/apiserver-etcd-client.crt",
      keyFile: "/etc/kubernetes/pki/apiserver-etcd-client.key",
    });
  });

  test("globs reach the shell unquoted, and only plain path globs are let through", () => {
    expect(globWords(["etc/kubernetes/*.conf", "/etc/etcd/pki/*.crt"]).text).toBe("etc/kubernetes/*.conf /etc/etcd/pki/*.crt");
    expect(() => globWords(["/etc/x; rm -rf /"])).toThrow("not a plain path glob");
  });
});
