// runtime: docker (issue 21): kubeadm is told the dockershim socket, so it writes only --network-plugin=cni
// and the 1.22 kubelet runs on docker (its default there); the kubelet's cgroup driver is docker's.
import { expect, test } from "bun:test";
import { parse, parseAllDocuments } from "yaml";
import { criSocket, renderInitConfig, renderJoinConfig } from "../../src/phases/util/kubeadm-config.ts";
import { DOCKER_CGROUP_DRIVER, renderDockerDaemonJson } from "../../src/depot/node-config.ts";
import { runtimeFlags } from "../kube-standin/kubeadm/node.ts";
import { parseVersion } from "../kube-standin/lib/versions.ts";
import { seedConfig } from "./support/seed-config.ts";

const docker = seedConfig([["runtime: containerd", "runtime: docker"]]);
const secrets = { token: "abcdef.0123456789abcdef", certificateKey: "a".repeat(64) };

test("kubeadm's configs name the dockershim socket; the kubelet's cgroup driver is the one daemon.json gives docker", () => {
  expect(criSocket(docker)).toBe("/var/run/dockershim.sock");
  const docs = parseAllDocuments(renderInitConfig(docker, docker.hosts[0]!, secrets, "192.168.217.19:5000/google_containers")).map((d) => d.toJS() as any);
  expect(docs.find((d) => d.kind === "InitConfiguration").nodeRegistration.criSocket).toBe("/var/run/dockershim.sock");
  const kubelet = docs.find((d) => d.kind === "KubeletConfiguration");
  expect(kubelet.cgroupDriver).toBe(DOCKER_CGROUP_DRIVER);
  expect(JSON.parse(renderDockerDaemonJson(["192.168.217.19:5000"]))["exec-opts"]).toEqual([`native.cgroupdriver=${kubelet.cgroupDriver}`]);
  const join = parse(renderJoinConfig(docker, docker.hosts[3]!, secrets, `sha256:${"b".repeat(64)}`, false));
  expect(join.nodeRegistration.criSocket).toBe("/var/run/dockershim.sock");
  // What kubeadm then writes for the kubelet: no remote runtime, so dockershim (the stand-in does as kubeadm 1.22 does).
  expect(runtimeFlags(criSocket(docker), parseVersion(`v${docker.kubernetes.version}`))).toEqual(["--network-plugin=cni"]);
});
