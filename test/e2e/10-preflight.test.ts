// Preflight on the fresh lab: passes as it is, and each injected fault (swap on, a node calling
// itself by another's name, a busy etcd port, a wrong interface) is named, with no node changed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { labExec } from "../lab/lab-client.ts";
import { deploy, onMaster1, NODES } from "./support.ts";

/** Everything install would change first: if these are as the lab made them, nothing was touched. */
async function untouched(): Promise<void> {
  for (const n of NODES) {
    const r = await labExec(n, "test ! -e /etc/k8s-ha-offline/cluster && ! grep -q k8s-ha-offline /etc/hosts && test ! -e /usr/local/bin/k8s-ha-offline && echo clean");
    expect({ node: n, out: r.stdout.trim() }).toEqual({ node: n, out: "clean" });
  }
}

beforeAll(deploy);

test("preflight passes on the fresh lab and changes nothing", async () => {
  const r = await onMaster1("preflight -c cluster.yaml");
  expect(r.code).toBe(0);
  expect(r.stderr + r.stdout).toContain("preflight");
  await untouched();
});

describe("each fault is named and install stops before changing any node", () => {
  const faults: { name: string; inject: () => Promise<unknown>; undo: () => Promise<unknown>; expect: RegExp; args?: string }[] = [
    {
      name: "swap on",
      // The lab shares the host kernel (no swap of its own): show the node a /proc/swaps with an active area.
      inject: () => labExec("node1", "printf 'Filename\\tType\\tSize\\tUsed\\tPriority\\n/swapfile\\tfile\\t1048572\\t0\\t-2\\n' > /run/fake-swaps && mount --bind /run/fake-swaps /proc/swaps", { check: true }),
      undo: () => labExec("node1", "umount /proc/swaps; rm -f /run/fake-swaps"),
      expect: /node1\s+Swap\s+error\s+swap is on/,
    },
    {
      name: "a duplicate hostname",
      inject: () => labExec("master2", "hostname master1", { check: true }),
      undo: () => labExec("master2", "hostname master2"),
      expect: /master2\s+Hostname\s+error\s+master2 \(192\.168\.217\.20\) calls itself "master1"/,
    },
    {
      name: "a busy port 2379",
      inject: () => labExec("master3", "systemd-run --unit=busy2379 socat TCP-LISTEN:2379,fork,reuseaddr /dev/null && sleep 1", { check: true }),
      undo: () => labExec("master3", "systemctl stop busy2379"),
      expect: /master3\s+Port-2379\s+error\s+port 2379 \(etcd client\) is in use by socat/,
    },
    {
      name: "a wrong interface name",
      inject: () => labExec("master1", "sed 's/interface: host0/interface: eth7/' /root/cluster.yaml > /root/cluster-wrong-if.yaml", { check: true }),
      undo: () => labExec("master1", "rm -f /root/cluster-wrong-if.yaml"),
      expect: /master1\s+Interface\s+error\s+interface eth7 does not exist/,
      args: "-c cluster-wrong-if.yaml",
    },
  ];
  for (const f of faults) {
    test(f.name, async () => {
      await f.inject();
      try {
        const r = await onMaster1(`install ${f.args ?? "-c cluster.yaml"} --yes`);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(f.expect);
        expect(r.stderr).toContain("nothing was changed");
        await untouched();
      } finally {
        await f.undo();
      }
    });
  }
});

afterAll(async () => {
  // Leave the lab as the next suite expects it: clean and with correct hostnames.
  await labExec("master2", "hostname master2");
});
