// Issue 5's failure test: an etcd member stopped after install is reported by the etcd phase and a
// re-run brings it back healthy, without losing a key written before.
import { expect, test } from "bun:test";
import { labExec } from "../lab/lab-client.ts";
import { onMaster1 } from "./support.ts";

const ETCDCTL = "ETCDCTL_API=3 /usr/local/bin/etcdctl --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key";
const ALL = "--endpoints=https://192.168.217.19:2379,https://192.168.217.20:2379,https://192.168.217.21:2379";

test("a stopped member is reported, restarted by a re-run, and no key is lost", async () => {
  const value = `written-before-${Date.now()}`;
  await labExec("master1", `${ETCDCTL} ${ALL} put /drill/before ${value}`, { check: true });
  await labExec("master3", "systemctl stop etcd", { check: true });

  // Two members keep the quorum: writes still work while master3 is down.
  await labExec("master1", `${ETCDCTL} ${ALL} put /drill/during still-writable`, { check: true });

  const r = await onMaster1("install -c cluster.yaml --yes --only etcd");
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/master3\s+done \(was: etcd is not running\)/);
  expect(r.stderr).toMatch(/master1\s+nothing to do/);

  expect((await labExec("master3", "systemctl is-active etcd")).stdout.trim()).toBe("active");
  const health = await labExec("master1", `${ETCDCTL} ${ALL} endpoint health`);
  expect((health.stdout + health.stderr).match(/is healthy/g)?.length).toBe(3);
  // Read from the member that was down: it caught up, nothing written before or during is lost.
  const got = await labExec("master1", `${ETCDCTL} --endpoints=https://192.168.217.21:2379 get /drill/ --prefix --print-value-only`, { check: true });
  expect(got.stdout.trim().split("\n")).toEqual([value, "still-writable"]);
});
