// The version is baked at build time: a 1.31 build speaks v1beta4 and lists 1.31's images.
import { afterAll, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { buildStandin, TestNode, tmpdir } from "./harness.ts";

const dir = tmpdir("kube-standin-build-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test("KUBE_STANDIN_VERSION=v1.31.0 build", async () => {
  const bin = buildStandin(fs.mkdirSync(path.join(dir, "bin"), { recursive: true }) ?? path.join(dir, "bin"), "v1.31.0");
  const n = new TestNode("m1", path.join(dir, "root"), bin);
  expect((await n.run("kubeadm", ["version", "-o", "short"])).stdout.trim()).toBe("v1.31.0");
  const list = await n.run("kubeadm", ["config", "images", "list"]);
  expect(list.stdout).toContain("registry.k8s.io/pause:3.10\n");
  expect(list.stdout).toContain("registry.k8s.io/coredns/coredns:v1.11.3\n");
  n.write("/c.yaml", "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nkubernetesVersion: v1.31.0\n");
  const old = await n.run("kubeadm", ["config", "images", "list", "--config", "/c.yaml"]);
  expect(old.code).not.toBe(0);
  expect(old.stderr).toContain('deprecated API spec: "kubeadm.k8s.io/v1beta3"');
}, 120_000);
