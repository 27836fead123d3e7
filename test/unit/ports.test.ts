// The one port table and the three views read from it: what the firewall opens, what preflight wants
// free on each node, and what the config keeps haproxy and the depot off. Each view is compared with
// the list it replaced, written out here, so a change to the table shows up as a change of behaviour.
import { expect, test } from "bun:test";
import { componentPorts, firewallPorts, portsToBeFree, portTable } from "../../src/config/ports.ts";
import { labCluster } from "./support/cluster-fixture.ts";

const config = labCluster();
const node = (name: string) => config.hosts.find((h) => h.name === name)!;
const lb = config.loadBalancer.port;
const depot = config.depot.port;

test("the firewall opens the component ports, NodePorts, both CNIs' ports, haproxy and the depot", () => {
  expect(firewallPorts(config).sort()).toEqual(
    ["6443/tcp", "2379-2380/tcp", "10250/tcp", "10257/tcp", "10259/tcp", "30000-32767/tcp", "8472/udp", "179/tcp", `${lb}/tcp`, `${depot}/tcp`].sort(),
  );
});

test("a configured port next to a fixed one stays a port of its own", () => {
  const c = { ...config, loadBalancer: { ...config.loadBalancer, port: 6444 }, depot: { ...config.depot, port: 2381 } };
  expect(firewallPorts(c)).toContain("6443/tcp");
  expect(firewallPorts(c)).toContain("6444/tcp");
  expect(firewallPorts(c)).toContain("2379-2380/tcp");
  expect(firewallPorts(c)).toContain("2381/tcp");
});

test("preflight wants free what each node's roles will listen on, in a fixed order (every master runs a depot)", () => {
  expect([...portsToBeFree(config, node("master1"))]).toEqual([
    [10250, "kubelet"],
    [6443, "kube-apiserver"],
    [lb, "haproxy (load balancer)"],
    [10257, "kube-controller-manager"],
    [10259, "kube-scheduler"],
    [2379, "etcd client"],
    [2380, "etcd peer"],
    [depot, "depot"],
  ]);
  expect([...portsToBeFree(config, node("master2")).keys()]).toEqual([10250, 6443, lb, 10257, 10259, 2379, 2380, depot]);
  expect([...portsToBeFree(config, node("node1"))]).toEqual([[10250, "kubelet"]]);
});

test("the config check knows every fixed TCP port, calico's only with calico", () => {
  const flannel = [2379, 2380, 6443, 10248, 10249, 10250, 10256, 10257, 10259];
  expect(componentPorts("flannel").map((p) => p.port).sort((a, b) => a - b)).toEqual(flannel);
  expect(componentPorts("calico").map((p) => p.port).sort((a, b) => a - b)).toEqual([179, 5473, 9099, ...flannel].sort((a, b) => a - b));
});

test("every port is in the table once", () => {
  const ports = portTable(config).map((p) => `${p.port}/${p.protocol}`);
  expect(new Set(ports).size).toBe(ports.length);
});
