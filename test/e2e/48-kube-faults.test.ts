// Issue 7: the stand-in is strict, so a wrong discovery hash, an expired token or a misspelt field
// in a kubeadm template makes `install` itself fail with a clear message. Each case takes the
// worker node1 out of the cluster (remove-node), breaks one thing, runs the install, then repairs
// and proves that a re-run joins node1 again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, mkdtempSync, symlinkSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labExec, run, LAB_SCRIPT } from "../lab/lab-client.ts";
import { onMaster1, ROOT, BUNDLE } from "./support.ts";

const CA = "/etc/kubernetes/pki/ca.crt";
const STATE = "/var/lib/k8s-ha-offline";

const takeOutNode1 = async () => {
  const r = await onMaster1("remove-node node1 -c cluster.yaml --yes");
  expect(r.code).toBe(0);
  expect((await labExec("node1", "test -e /etc/kubernetes/kubelet.conf && echo joined || echo out")).stdout.trim()).toBe("out");
};
const joinNode1 = () => onMaster1("install -c cluster.yaml --yes --only worker-join");
const node1Joined = async () => (await labExec("master1", "kubectl get nodes -o name")).stdout.split("\n").includes("node/node1");
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .*\.(ts|js):\d+/);

beforeAll(async () => {
  expect((await onMaster1("install -c cluster.yaml --yes")).code).toBe(0);
});

afterAll(async () => {
  // Whatever happened above, leave master1's CA in place and node1 in the cluster for the next suites.
  await labExec("master1", `test -e /root/ca.crt.keep && mv -f /root/ca.crt.keep ${CA}; true`);
  if (!(await node1Joined())) await joinNode1();
});

test("a wrong discovery hash: install fails naming node1 and the hash; with the right CA back, a re-run joins it", async () => {
  await takeOutNode1();
  // master1's ca.crt replaced by another CA (the etcd CA): the hash the installer pins is then wrong.
  await labExec("master1", `cp -p ${CA} /root/ca.crt.keep && cp /etc/kubernetes/pki/etcd/ca.crt ${CA}`, { check: true });
  const r = await joinNode1();
  await labExec("master1", `mv -f /root/ca.crt.keep ${CA}`, { check: true });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("node1: kubeadm join refused the discovery CA hash");
  expect(r.stderr).toMatch(/none of the public keys "sha256:[0-9a-f]{64}" are pinned/);
  noStack(r.stderr);
  expect(await node1Joined()).toBe(false);
  expect((await joinNode1()).code).toBe(0);
  expect(await node1Joined()).toBe(true);
});

test("an expired token: install fails saying so, forgets the token, and the re-run joins with a fresh one", async () => {
  await takeOutNode1();
  // The token the installer holds (valid for 24 h in join.json) is made to expire in the cluster.
  const { token } = JSON.parse((await labExec("master1", `cat ${STATE}/join.json`, { check: true })).stdout);
  await labExec("master1", `kubeadm token delete ${token.split(".")[0]} >/dev/null && kubeadm token create ${token} --ttl 1s >/dev/null && sleep 2`, { check: true });
  const r = await joinNode1();
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("node1: the cluster refused the bootstrap token (expired or deleted)");
  expect(r.stderr).toContain("is invalid for this cluster or it has expired");
  expect(r.stderr).toContain("re-run install: a fresh token is created");
  expect(r.stderr).not.toContain(token.split(".")[1]);
  noStack(r.stderr);
  expect(await node1Joined()).toBe(false);
  const again = await joinNode1();
  expect(again.code).toBe(0);
  expect(await node1Joined()).toBe(true);
  const fresh = JSON.parse((await labExec("master1", `cat ${STATE}/join.json`, { check: true })).stdout);
  expect(fresh.token).not.toBe(token);
  expect(fresh.tokenExpiresAt).toBeGreaterThan(Date.now() + 23 * 3600_000);
});

test("a misspelt field in the join template: a binary built with it fails the install naming the field", async () => {
  // Build the installer again from a copy of the sources whose join template has one typo.
  const tree = mkdtempSync(join(tmpdir(), "misspelt-"));
  for (const d of ["src", "assets", "rpms", "images", "build.ts", "package.json", "tsconfig.json"]) cpSync(join(ROOT, d), join(tree, d), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(tree, "node_modules"));
  const tpl = join(tree, "assets/kubeadm/join-v1beta3.yaml");
  writeFileSync(tpl, readFileSync(tpl, "utf8").replace("  imagePullPolicy:", "  imagePulPolicy:"));
  const lock = join(BUNDLE, "lock.json");
  const built = await run([process.execPath, "-e", `const { compile } = await import("./build.ts"); await compile("linux-x64", await Bun.file(${JSON.stringify(lock)}).text());`], { timeoutMs: 600_000, cwd: tree });
  expect(built.code).toBe(0);
  const cp = await run([LAB_SCRIPT, "cp-to", "master1", join(tree, "dist/k8s-ha-offline"), "/root/k8s-ha-offline-misspelt"], 300_000);
  expect(cp.code).toBe(0);

  await takeOutNode1();
  const r = await labExec("master1", "cd /root && ./k8s-ha-offline-misspelt install -c cluster.yaml --yes --only worker-join", { timeoutMs: 600_000 });
  await labExec("master1", "rm -f /root/k8s-ha-offline-misspelt");
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("node1: kubeadm join refused its configuration file");
  expect(r.stderr).toContain('unknown field "imagePulPolicy"');
  noStack(r.stderr);
  expect(await node1Joined()).toBe(false);
  expect((await joinNode1()).code).toBe(0);
  expect(await node1Joined()).toBe(true);
});
