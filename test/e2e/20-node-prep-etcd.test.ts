// Issue 5's acceptance on the lab, with the binary running on master1:
// install --only preflight,os,packages,runtime,etcd (and what they need) leaves every node prepared
// and a 3-member etcd cluster healthy over TLS; a second run changes nothing.
import { beforeAll, describe, expect, test } from "bun:test";
import { labExec } from "../lab/lab-client.ts";
import { onMaster1, NODES, MASTERS, ROOT, bundleLock } from "./support.ts";
import YAML from "yaml";
import { join } from "node:path";

const PHASES = "preflight,binary,depot-pki,depot,trust,os,packages,time,runtime,etcd-pki,etcd";
const ADDR: Record<string, string> = { master1: "192.168.217.19", master2: "192.168.217.20", master3: "192.168.217.21", node1: "192.168.217.22" };
/** The depots in the order node n tries them (issue 16): its own first when it is a master, then master1's, then the others. */
const depotOrder = (n: string) => {
  const all = MASTERS.map((m) => ADDR[m]!);
  return MASTERS.includes(n) ? [ADDR[n]!, ...all.filter((a) => a !== ADDR[n])] : all;
};
const ETCDCTL = "ETCDCTL_API=3 /usr/local/bin/etcdctl --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key --endpoints=https://127.0.0.1:2379";
/** Files these phases own: a re-run must not even touch them. */
const OWNED = [
  "/etc/hostname", "/etc/hosts", "/etc/k8s-ha-offline/cluster", "/etc/modules-load.d/k8s.conf", "/etc/sysctl.d/99-kubernetes.conf",
  "/etc/apt/sources.list.d/k8s-ha-offline.list", "/etc/apt/k8s-ha-offline.mirrors", "/etc/chrony/chrony.conf", "/etc/containerd/config.toml",
  "/etc/systemd/system/containerd.service", "/usr/local/bin/containerd", "/usr/local/bin/k8s-ha-offline",
];
const OWNED_ETCD = ["/etc/systemd/system/etcd.service", "/usr/local/bin/etcd", "/etc/etcd/pki/ca.crt", "/etc/etcd/pki/server.crt", "/etc/etcd/pki/server.key", "/etc/etcd/pki/peer.crt",
  // Every master's depot: unit, serving pair, the bundle copy's stamp (a re-run neither copies nor re-verifies).
  "/etc/systemd/system/k8s-ha-offline-depot.service", "/etc/k8s-ha-offline/pki/depot.crt", "/etc/k8s-ha-offline/pki/depot.key", "/var/lib/k8s-ha-offline-depot/bundle.verified"];
const owned = (n: string) => (MASTERS.includes(n) ? [...OWNED, ...OWNED_ETCD] : OWNED);
const mtimes = async (n: string) => (await labExec(n, `stat -c '%n %Y.%y' ${owned(n).join(" ")}`, { check: true })).stdout;

let first: Awaited<ReturnType<typeof onMaster1>>;
beforeAll(async () => {
  first = await onMaster1(`install -c cluster.yaml --yes --only ${PHASES}`);
});

test("the install of these phases succeeds", () => {
  expect(first.code).toBe(0);
  process.stderr.write(`install --only ${PHASES}: ${first.seconds.toFixed(1)} s\n`);
});

describe("every node", () => {
  for (const n of NODES) {
    test(`${n}: hostname, /etc/hosts block, swap off`, async () => {
      expect((await labExec(n, "hostname")).stdout.trim()).toBe(n);
      const hosts = (await labExec(n, "cat /etc/hosts")).stdout;
      for (const [name, addr] of [["master1", "192.168.217.19"], ["master2", "192.168.217.20"], ["master3", "192.168.217.21"], ["node1", "192.168.217.22"]])
        expect(hosts).toMatch(new RegExp(`^${addr.replace(/\./g, "\\.")} ${name}\\b`, "m"));
      expect((await labExec(n, "awk 'NR>1' /proc/swaps | wc -l")).stdout.trim()).toBe("0");
    });

    test(`${n}: packages at the locked versions, from the depot only`, async () => {
      // Versions as pinned in the manifest (with epochs, which .deb file names drop).
      const manifest = YAML.parse(await Bun.file(join(ROOT, "rpms/debian12.yaml")).text()) as { packages: { name: string; version: string }[] };
      const wanted = ["chrony", "conntrack", "socat", ...(MASTERS.includes(n) ? ["haproxy", "keepalived"] : [])];
      for (const name of wanted) {
        const version = manifest.packages.find((p) => p.name === name)!.version;
        expect({ name, version: (await labExec(n, `dpkg-query -W -f='\${Version}' ${name}`)).stdout }).toEqual({ name, version });
      }
      const list = (await labExec(n, "cat /etc/apt/sources.list.d/k8s-ha-offline.list")).stdout;
      expect(list).toContain("deb [signed-by=/etc/k8s-ha-offline/depot-repo.gpg] mirror+file:/etc/apt/k8s-ha-offline.mirrors ./");
      // Every master's depot, this node's own first (issue 16): apt moves to the next when one is down.
      expect((await labExec(n, "cat /etc/apt/k8s-ha-offline.mirrors")).stdout.trim().split("\n")).toEqual(depotOrder(n).map((a, i) => `https://${a}:5000/repo/debian12/\tpriority:${i + 1}`));
      const conf = (await labExec(n, "cat /etc/apt/apt.conf.d/60k8s-ha-offline-depot")).stdout;
      for (const a of depotOrder(n)) expect(conf).toContain(`Acquire::https::${a}::CaInfo "/etc/k8s-ha-offline/depot-ca.crt";`);
    });

    test(`${n}: trusts the depot only through what the trust phase put there: nothing insecure under /etc`, async () => {
      const r = await labExec(n, "grep -rIl 'skip_verify\\|gpgcheck=0\\|trusted=yes\\|insecure-registries' /etc; echo exit=$?");
      expect(r.stdout.trim()).toBe("exit=1");
      // apt-get update verifies TLS (depot CA) and InRelease (cluster key) with no warning.
      const upd = await labExec(n, "apt-get -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/k8s-ha-offline.list -o Dir::Etc::sourceparts=- update 2>&1");
      expect(upd.code).toBe(0);
      expect(upd.stdout).toContain(`https://${depotOrder(n)[0]}:5000/repo/debian12 ./ InRelease`);
      expect(upd.stdout).not.toMatch(/^(W|E):/m);
    });

    // Without NTP servers the masters serve time together (chrony orphan mode, peers of each other): a
    // master is synchronised (leap status normal) and peers the two others; a worker follows one of them.
    if (MASTERS.includes(n))
      test(`${n}: chrony synchronised, peering with the other masters`, async () => {
        expect((await labExec(n, "chronyc -n tracking")).stdout).toMatch(/^Leap status\s*:\s*Normal/m);
        const peers = (await labExec(n, "chronyc -n sources")).stdout.match(/^=.\s+192\.168\.217\.(19|20|21)\b/gm) ?? [];
        expect(peers.length).toBe(2);
      });
    else
      test(`${n}: chrony synchronised to one of the masters`, async () => {
        const r = await labExec(n, "chronyc -n sources");
        expect(r.stdout).toMatch(/^\^\*\s+192\.168\.217\.(19|20|21)\b/m);
      });
  }
});

describe("every master runs the depot (issue 16)", () => {
  for (const m of MASTERS) {
    test(`${m}: the depot service answers over TLS on its own address, from a root-owned copy of the bundle that verifies against the lock`, async () => {
      expect((await labExec(m, "systemctl is-active k8s-ha-offline-depot")).stdout.trim()).toBe("active");
      const v2 = await labExec("node1", `curl -sS -o /dev/null -w '%{http_code}' --cacert /etc/k8s-ha-offline/depot-ca.crt https://${ADDR[m]}:5000/v2/`);
      expect(v2.stdout).toBe("200");
      const verify = await labExec(m, "k8s-ha-offline verify-bundle --bundle /var/lib/k8s-ha-offline-depot/bundle");
      expect({ m, code: verify.code, out: verify.code === 0 ? "" : verify.stdout + verify.stderr }).toEqual({ m, code: 0, out: "" });
      const notRoot = await labExec(m, "find /var/lib/k8s-ha-offline-depot/bundle ! -user root -o -perm /022 -type f | head -3");
      expect(notRoot.stdout.trim()).toBe("");
      expect((await labExec(m, "stat -c '%a %U' /etc/k8s-ha-offline/pki/depot.key /var/lib/k8s-ha-offline/repo-signing.key")).stdout.trim().split("\n")).toEqual(["600 root", "600 root"]);
    });
  }
});

test("every node's hosts.toml lists the three depots, its own first, for upstream names and for the depot-named registry kubeadm uses", async () => {
  for (const n of NODES)
    for (const registry of ["registry.k8s.io", "192.168.217.19:5000"]) {
      const text = (await labExec(n, `cat /etc/containerd/certs.d/${registry}/hosts.toml`)).stdout;
      const hosts = [...text.matchAll(/^\[host\."([^"]+)"\]/gm)].map((x) => x[1]);
      expect({ n, registry, hosts }).toEqual({ n, registry, hosts: depotOrder(n).map((a) => `https://${a}:5000`) });
    }
});

test("containerd runs with the depot mirror: the worker pulls the pause image through it, over TLS verified with the depot CA", async () => {
  const hosts = (await labExec("node1", "cat /etc/containerd/certs.d/registry.k8s.io/hosts.toml")).stdout;
  expect(hosts).toContain('server = "https://192.168.217.19:5000"');
  expect(hosts).toContain('ca = "/etc/k8s-ha-offline/depot-ca.crt"');
  const r = await labExec("node1", "ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d registry.k8s.io/pause:3.5 && ctr -n k8s.io images ls -q", { timeoutMs: 120_000 });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("registry.k8s.io/pause:3.5");
  // containerd resolves the tag (HEAD) and fetches by digest: both from the worker's address, in the depot's log.
  const depot = await labExec("master1", "grep -c '192.168.217.22 [A-Z]* /v2/pause/manifests/' /var/log/k8s-ha-offline/depot.log");
  expect(Number(depot.stdout.trim())).toBeGreaterThan(0);
});

test("runtime pinned every node's images to the bundle lock's digests, under the names kubeadm and the kubelet use (issue 15)", async () => {
  const lock = await bundleLock();
  const digest = (upstream: string) => lock.images.find((i) => i.ref.endsWith(`/${upstream}`))!.digest;
  const DEPOT = "192.168.217.19:5000";
  for (const n of NODES) {
    const listing = (await labExec(n, "ctr -n k8s.io images ls", { check: true })).stdout.split("\n");
    const target = (name: string) => listing.find((l) => l.startsWith(`${name} `))?.split(/\s+/)[2];
    const kubeadm = ["pause:3.5", "kube-proxy:v1.22.2", "coredns:v1.8.4", ...(MASTERS.includes(n) ? ["kube-apiserver:v1.22.2", "kube-controller-manager:v1.22.2", "kube-scheduler:v1.22.2"] : [])];
    for (const image of kubeadm) expect({ n, image, target: target(`${DEPOT}/google_containers/${image}`) }).toEqual({ n, image, target: digest(image) });
    for (const image of ["flannel/flannel:v0.15.1", "flannel/flannel-cni-plugin:v1.0.0"]) {
      const byDigest = `${DEPOT}/${image.split(":")[0]}@${digest(image)}`;
      expect({ n, byDigest, target: target(byDigest) }).toEqual({ n, byDigest, target: digest(image) });
    }
  }
});

describe("etcd", () => {
  test("three members, healthy over TLS", async () => {
    const list = await labExec("master1", `${ETCDCTL} member list -w simple`, { check: true });
    expect(list.stdout.trim().split("\n").length).toBe(3);
    for (const m of MASTERS) expect(list.stdout).toContain(`https://${m === "master1" ? "192.168.217.19" : m === "master2" ? "192.168.217.20" : "192.168.217.21"}:2379`);
    const health = await labExec("master1", `${ETCDCTL} endpoint health --cluster`);
    expect(health.code).toBe(0);
    expect((health.stdout + health.stderr).match(/is healthy/g)?.length).toBe(3);
  });

  test("a client without a certificate is refused", async () => {
    const r = await labExec("node1", "curl -sk --max-time 5 https://192.168.217.20:2379/health; echo \"exit=$?\"");
    expect(r.stdout).not.toContain('"health":"true"');
    // 35/55/56: the TLS handshake or the request is cut off by etcd's "certificate required" alert.
    expect(r.stdout).toMatch(/exit=(35|52|55|56|16)/);
  });

  test("the CA key stays in the installer's state: on the masters' state dirs only (0600 root, replicated), never on a worker or in etcd's own directories", async () => {
    const key = "/var/lib/k8s-ha-offline/pki/etcd-ca.key";
    expect((await labExec("master1", `stat -c %a ${key}`)).stdout.trim()).toBe("600");
    const sum = (await labExec("master1", `sha256sum ${key}`, { check: true })).stdout.split(" ")[0]!;
    for (const n of ["master1", "master2", "master3", "node1"]) {
      const r = await labExec(n, "find /etc /var/lib /root /tmp -xdev -type f -size -20k -exec sha256sum {} + 2>/dev/null", { timeoutMs: 60_000 });
      const copies = r.stdout.split("\n").filter((l) => l.startsWith(sum)).map((l) => l.split(/\s+/)[1]).sort();
      // Issue 16: the state (the CA key included) is replicated to every master, so that one can die; its backup copy sits beside it.
      const allowed = n === "node1" ? [] : [key, "/var/lib/k8s-ha-offline/pki/backup/etcd-ca.key"].filter((p) => copies.includes(p)).sort();
      expect({ node: n, copies }).toEqual({ node: n, copies: allowed });
      for (const p of copies) expect((await labExec(n, `stat -c '%a %U' ${p}`)).stdout.trim()).toBe("600 root");
    }
    expect((await labExec("master2", `test -f ${key} && echo replicated`)).stdout.trim()).toBe("replicated");
  });
});

test("a second run reports nothing to do and touches no file", async () => {
  const before = await Promise.all(NODES.map(mtimes));
  const again = await onMaster1(`install -c cluster.yaml --yes --only ${PHASES}`);
  expect(again.code).toBe(0);
  const summary = again.stderr.slice(again.stderr.lastIndexOf("PHASE"));
  for (const p of PHASES.split(",").filter((p) => p !== "preflight")) expect(summary).toMatch(new RegExp(`^${p}\\s+[\\d.]+s\\s+\\d+ nothing to do$`, "m"));
  expect(await Promise.all(NODES.map(mtimes))).toEqual(before);
  process.stderr.write(`re-run with nothing to do: ${again.seconds.toFixed(1)} s\n`);
});

test("a node's binary changed in place (same size and inode, mtime put back) is hashed again and replaced; the others stay stamped", async () => {
  // The re-run trusts a stamp (sha256 + size, mtime, ctime, inode) instead of hashing every copy; a write
  // changes the ctime, which nobody can set back.
  const mtime = (await labExec("node1", "stat -c %Y /usr/local/bin/k8s-ha-offline", { check: true })).stdout.trim();
  await labExec("node1", `printf 'x' | dd of=/usr/local/bin/k8s-ha-offline bs=1 seek=4096 conv=notrunc status=none && touch -m -d @${mtime} /usr/local/bin/k8s-ha-offline`, { check: true });
  const r = await onMaster1("install -c cluster.yaml --yes --only binary");
  expect(r.code).toBe(0);
  expect(r.stderr.slice(r.stderr.lastIndexOf("PHASE"))).toMatch(/^binary\s+[\d.]+s\s+1 done, 3 nothing to do$/m);
  const sums = await Promise.all(NODES.map(async (n) => (await labExec(n, "sha256sum /usr/local/bin/k8s-ha-offline", { check: true })).stdout.split(" ")[0]));
  expect(new Set(sums).size).toBe(1);
  for (const n of NODES) expect((await labExec(n, "cat /etc/k8s-ha-offline/binary.verified", { check: true })).stdout).toStartWith(`${sums[0]} `);
});
