// A ClusterConfig shaped like the lab (3 masters that are also etcd members, 1 worker),
// built by hand so PKI and check-certs tests do not depend on the config loader.
import type { ClusterConfig, HostSpec, Role } from "../../../src/config/types.ts";

const ssh = {
  user: "root",
  port: 22,
  hostKeyPolicy: "accept-new" as const,
  knownHostsFile: "/var/lib/k8s-ha-offline/known_hosts",
  connectTimeoutSeconds: 10,
};

export const labHost = (name: string, address: string, roles: Role[]): HostSpec => ({ name, address, roles, ssh, aliases: [] });

export function labCluster(stateDir = "/var/lib/k8s-ha-offline"): ClusterConfig {
  return {
    apiVersion: "k8s-ha-offline.io/v1alpha1",
    kind: "Cluster",
    name: "lab",
    hosts: [
      labHost("master1", "10.77.0.11", ["control-plane", "etcd"]),
      labHost("master2", "10.77.0.12", ["control-plane", "etcd"]),
      labHost("master3", "10.77.0.13", ["control-plane", "etcd"]),
      labHost("node1", "10.77.0.21", ["worker"]),
    ],
    loadBalancer: { vip: "10.77.0.100", interface: "eth0", port: 9443, virtualRouterId: 51, vrrpMode: "unicast", nopreempt: true, statsPort: 9000 },
    kubernetes: {
      version: "1.28.2",
      podSubnet: "10.244.0.0/16",
      serviceSubnet: "10.96.0.0/12",
      dnsDomain: "cluster.local",
      cni: "flannel",
      runtime: "containerd",
      tokenTTL: "24h",
      allowNonExpiringToken: false,
    },
    bundle: { dir: "/root/bundle", profile: "el9" },
    depot: { port: 5000 },
    ntp: { servers: [] },
    firewall: "disable",
    stateDir,
    source: "test/cluster.yaml",
  };
}
