// Issue 9's security sweep of the installed lab (the cluster the interrupt drill finished), as one
// drill: each check is a row of the drill table, its cases the things it looked at.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { labExec, readLab } from "../lab/lab-client.ts";
import { onMaster1, NODES, MASTERS, bundleLock } from "../e2e/support.ts";
import { secretsOf } from "./fingerprint.ts";
import { recordDrill, drillTable, type DrillRow } from "./report.ts";

const STATE = "/var/lib/k8s-ha-offline";
const DEPOT = "https://192.168.217.19:5000";
/** Every request to the depot verifies it with the CA the trust phase put on the node (never curl -k). */
const DEPOT_CA = "--cacert /etc/k8s-ha-offline/depot-ca.crt";
const DEFAULTS = ["", "1111", "123456", "admin", "admin123", "password", "changeme", "abcdef.0123456789abcdef"];
const rows: DrillRow[] = [];

/** Run a check over its cases; a row for the table, and the failures for the assertion. */
async function sweep(drill: string, cases: [string, () => Promise<string | undefined>][]): Promise<string[]> {
  const failures: string[] = [];
  for (const [name, check] of cases) {
    const why = await check().catch((e: Error) => `threw: ${e.message}`);
    if (why) failures.push(`${name}: ${why}`);
  }
  rows.push({ drill, cases: cases.length, passed: cases.length - failures.length, failed: failures.length, ...(failures.length ? { note: failures.slice(0, 3).join("; ") } : {}) });
  return failures;
}

let secrets: Map<string, string>;
let join_: { token: string; certificateKey: string; tokenExpiresAt: number };
const upper = (n: string) => join(readLab().state_dir, "nodes", n, "upper");

beforeAll(async () => {
  // The cluster the interrupt drill left; when this file runs alone, install first (nothing to do if installed).
  expect((await onMaster1("install -c cluster.yaml --yes")).code).toBe(0);
  secrets = secretsOf(join(upper("master1"), STATE.slice(1)));
  join_ = JSON.parse(readFileSync(join(upper("master1"), STATE.slice(1), "join.json"), "utf8"));
});

afterAll(() => {
  for (const r of rows) recordDrill(r);
  process.stderr.write(`\n${drillTable(rows)}\n`);
});

test("no default or empty secret: keepalived auth_pass, haproxy stats password, bootstrap token", async () => {
  const generated = JSON.parse(readFileSync(join(upper("master1"), STATE.slice(1), "secrets.json"), "utf8"));
  const cases: [string, () => Promise<string | undefined>][] = [];
  for (const m of MASTERS) {
    cases.push([`${m} keepalived auth_pass`, async () => {
      const pass = /auth_pass\s+(\S*)/.exec((await labExec(m, "cat /etc/keepalived/keepalived.conf")).stdout)?.[1] ?? "";
      if (DEFAULTS.includes(pass) || pass.length < 8) return `weak: "${pass}"`;
      return pass === generated.keepalivedAuthPass ? undefined : "not the generated one";
    }]);
    cases.push([`${m} haproxy stats password`, async () => {
      const auth = /stats auth\s+\S+:(\S*)/.exec((await labExec(m, "cat /etc/haproxy/haproxy.cfg")).stdout)?.[1] ?? "";
      if (DEFAULTS.includes(auth) || auth.length < 16) return `weak: "${auth}"`;
      return auth === generated.haproxyStatsPassword ? undefined : "not the generated one";
    }]);
  }
  cases.push(["bootstrap token", async () => (DEFAULTS.includes(join_.token) || !/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(join_.token) ? `weak: ${join_.token}` : undefined)]);
  expect(await sweep("no default or empty secret", cases)).toEqual([]);
});

test("every private key and every file holding a generated secret: mode 0600 or stricter, owned by root", async () => {
  const values = [...secrets.keys()];
  const cases: [string, () => Promise<string | undefined>][] = [];
  const walk = (node: string, root: string, rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (/^(proc|sys|dev|run|usr|var\/lib\/containerd|var\/cache|var\/lib\/dpkg|var\/lib\/apt|root\/bundle-debian12)(\/|$)/.test(r)) continue;
      const st = lstatSync(join(root, r));
      if (st.isDirectory()) walk(node, root, r);
      else if (st.isFile() && st.size < 1_000_000) {
        const text = readFileSync(join(root, r), "latin1");
        if (!/PRIVATE KEY-----/.test(text) && !values.some((v) => text.includes(v))) continue;
        cases.push([`${node}:/${r}`, async () => ((st.mode & 0o077) !== 0 || st.uid !== 0 ? `mode ${(st.mode & 0o777).toString(8)} owner ${st.uid}` : undefined)]);
      }
    }
  };
  for (const n of NODES) walk(n, upper(n), "");
  expect(cases.length).toBeGreaterThan(30);
  expect(await sweep("private keys and secret files 0600 root", cases)).toEqual([]);
});

test("the bootstrap token expires (tokenTTL 24h), unlike the seed's ttl 0", async () => {
  const list = (await labExec("master1", "kubeadm token list", { check: true })).stdout.trim().split("\n").slice(1);
  const cases: [string, () => Promise<string | undefined>][] = list.map((l) => [l.split(/\s+/)[0]!.split(".")[0]!, async () => {
    const ttl = l.split(/\s+/)[1] ?? "";
    if (ttl === "<forever>") return "never expires";
    if (ttl === "<invalid>") return undefined; // already expired
    // kubeadm prints the time left as a Go duration: 23h55m43s.
    const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(ttl);
    const seconds = m ? Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) : NaN;
    return seconds > 0 && seconds <= 24 * 3600 ? undefined : `ttl ${ttl}`;
  }]);
  expect(cases.length).toBeGreaterThan(0);
  expect(join_.tokenExpiresAt).toBeLessThan(Date.now() + 24 * 3600_000 + 60_000);
  expect(await sweep("bootstrap tokens expire", cases)).toEqual([]);
});

test("the token and the certificate key appear in no log on any node (installer, journal, stand-in) nor in the kept kubeadm init.yaml", async () => {
  const cases: [string, () => Promise<string | undefined>][] = NODES.map((n) => [n, async () => {
    const r = await labExec(n, `grep -rlaF -e '${join_.token.split(".")[1]}' -e '${join_.certificateKey}' /var/log ${STATE}/logs ${STATE}/kubeadm /var/lib/k8s-ha-offline-node 2>/dev/null; test -e /etc/kubernetes/k8s-ha-offline-join.yaml && echo /etc/kubernetes/k8s-ha-offline-join.yaml; true`);
    return r.stdout.trim() ? `found in ${r.stdout.trim().split("\n").join(", ")}` : undefined;
  }]);
  expect(await sweep("join secrets in no log", cases)).toEqual([]);
});

test("etcd refuses a client without a certificate and one with a certificate of another CA", async () => {
  const cases: [string, () => Promise<string | undefined>][] = [];
  const curl = (m: string, extra: string) => labExec("master1", `curl -sS --max-time 5 --cacert /etc/etcd/pki/ca.crt ${extra} https://${m}:2379/health; echo " exit=$?"`);
  for (const m of MASTERS) {
    cases.push([`${m} without a client certificate`, async () => {
      const r = await curl(m, "");
      return /"health":"true"/.test(r.stdout) ? "answered" : undefined;
    }]);
    cases.push([`${m} with the Kubernetes CA's client certificate`, async () => {
      const r = await curl(m, "--cert /etc/kubernetes/pki/apiserver-kubelet-client.crt --key /etc/kubernetes/pki/apiserver-kubelet-client.key");
      return /"health":"true"/.test(r.stdout) ? "answered" : undefined;
    }]);
    cases.push([`${m} with its own CA's client certificate (control: must answer)`, async () => {
      const r = await curl(m, "--cert /etc/etcd/pki/healthcheck-client.crt --key /etc/etcd/pki/healthcheck-client.key");
      return /"health":"true"/.test(r.stdout) ? undefined : `no answer: ${r.stdout.trim()} ${r.stderr.trim()}`;
    }]);
  }
  expect(await sweep("etcd client authentication", cases)).toEqual([]);
});

test("the depot refuses writes, path traversal, malformed digests and oversized requests (asked from the worker)", async () => {
  const code = async (args: string) => (await labExec("node1", `curl -s ${DEPOT_CA} -o /tmp/body -w '%{http_code}' --max-time 30 ${args}; echo; head -c 300 /tmp/body`)).stdout;
  const repo = JSON.parse((await labExec("node1", `curl -s ${DEPOT_CA} ${DEPOT}/v2/_catalog`, { check: true })).stdout).repositories[0];
  const cases: [string, () => Promise<string | undefined>][] = [
    ["PUT a file", async () => (/^405/.test(await code(`-X PUT --data x ${DEPOT}/files/x`)) ? undefined : "not 405")],
    ["DELETE a file", async () => (/^405/.test(await code(`-X DELETE ${DEPOT}/repo/`)) ? undefined : "not 405")],
    ["start a blob upload", async () => (/^40[05]/.test(await code(`-X POST ${DEPOT}/v2/${repo}/blobs/uploads/`)) ? undefined : "accepted")],
    ["PUT a manifest", async () => (/^40[05]/.test(await code(`-X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data '{}' ${DEPOT}/v2/${repo}/manifests/evil`)) ? undefined : "accepted")],
    ["../ out of /files/", async () => { const r = await code(`--path-as-is ${DEPOT}/files/../../../../etc/passwd`); return /^4\d\d/.test(r) && !r.includes("root:") ? undefined : r.slice(0, 80); }],
    ["%2e%2e out of /repo/", async () => { const r = await code(`--path-as-is ${DEPOT}/repo/%2e%2e/%2e%2e/%2e%2e/etc/passwd`); return /^4\d\d/.test(r) && !r.includes("root:") ? undefined : r.slice(0, 80); }],
    ["a symlink-free bundle path to a key (/files/../lock.json)", async () => { const r = await code(`--path-as-is ${DEPOT}/files/..%2flock.json`); return /^4\d\d/.test(r) ? undefined : r.slice(0, 80); }],
    ["malformed digest", async () => (/^400[\s\S]*DIGEST_INVALID/.test(await code(`${DEPOT}/v2/${repo}/blobs/sha256:zz`)) ? undefined : "not 400 DIGEST_INVALID")],
    ["digest of the wrong length", async () => (/^4\d\d/.test(await code(`${DEPOT}/v2/${repo}/blobs/sha256:${"a".repeat(63)}`)) ? undefined : "accepted")],
    ["an 8 KB URL", async () => (/^414/.test(await code(`${DEPOT}/files/${"a".repeat(8192)}`)) ? undefined : "not 414")],
    ["plain HTTP on the depot's port gets no HTTP answer", async () => {
      const r = await labExec("node1", `curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://192.168.217.19:5000/v2/; echo " exit=$?"`);
      return /^000 exit=(52|56)$/.test(r.stdout.trim()) ? undefined : r.stdout.trim();
    }],
    ["a client without the depot CA refuses the depot's certificate", async () => {
      const r = await labExec("node1", `curl -s -o /dev/null -w '%{http_code}' --max-time 10 ${DEPOT}/v2/; echo " exit=$?"`);
      return r.stdout.trim() === "000 exit=60" ? undefined : r.stdout.trim();
    }],
    ["a 64 MB body, then the depot still answers", async () => {
      const r = await labExec("node1", `head -c 67108864 /dev/zero | curl -s ${DEPOT_CA} -o /dev/null -w '%{http_code}' --max-time 60 -X POST --data-binary @- ${DEPOT}/files/x; echo; curl -s ${DEPOT_CA} -o /dev/null -w '%{http_code}' ${DEPOT}/v2/`);
      const [big, after] = r.stdout.trim().split("\n");
      return /^4\d\d$|^000$/.test(big!) && after === "200" ? undefined : `body ${big}, then /v2/ ${after}`;
    }],
  ];
  expect(await sweep("depot refuses writes, traversal, bad digests, oversized", cases)).toEqual([]);
});

test("haproxy stats: unreachable from the worker, and 401 on the master without the generated password", async () => {
  const cases: [string, () => Promise<string | undefined>][] = [];
  for (const m of MASTERS) {
    const addr = readLab().nodes.find((n) => n.name === m)!.address;
    cases.push([`${m} from node1`, async () => {
      const r = await labExec("node1", `curl -s -o /dev/null -w '%{http_code}' --max-time 3 http://${addr}:9188/stats; echo " exit=$?"`);
      return /^(000|401) /.test(r.stdout) ? undefined : r.stdout.trim();
    }]);
    cases.push([`${m} locally without and with a wrong password`, async () => {
      const r = await labExec(m, "curl -s -o /dev/null -w '%{http_code} ' http://127.0.0.1:9188/stats; curl -s -o /dev/null -w '%{http_code}' -u admin:admin123 http://127.0.0.1:9188/stats");
      return r.stdout.trim() === "401 401" ? undefined : r.stdout.trim();
    }]);
  }
  expect(await sweep("haproxy stats closed", cases)).toEqual([]);
});

test("keepalived and haproxy configurations are not readable by other users", async () => {
  const cases: [string, () => Promise<string | undefined>][] = MASTERS.flatMap((m) =>
    ["etc/keepalived/keepalived.conf", "etc/haproxy/haproxy.cfg"].map((f): [string, () => Promise<string | undefined>] => [`${m}:/${f}`, async () => {
      const p = join(upper(m), f);
      if (!existsSync(p)) return "missing";
      return (lstatSync(p).mode & 0o077) === 0 ? undefined : `mode ${(lstatSync(p).mode & 0o777).toString(8)}`;
    }]),
  );
  expect(await sweep("LB configs private", cases)).toEqual([]);
});

// ---- issue 15: the supply chain, as the installed nodes see it -----------------------------------

test("nodes trust only the depot they were given: nothing insecure under /etc (trusted=yes, skip_verify, gpgcheck=0, insecure registries, plain-http depot)", async () => {
  const cases: [string, () => Promise<string | undefined>][] = NODES.map((n) => [
    n,
    async () => {
      const r = await labExec(n, `grep -rIlE 'trusted=yes|skip_verify|gpgcheck=0|insecure-registries|http://192\\.168\\.217\\.(19|20|21):5000' /etc 2>/dev/null; true`);
      return r.stdout.trim() ? `found in ${r.stdout.trim().replace(/\n/g, ", ")}` : undefined;
    },
  ]);
  expect(await sweep("nodes trust nothing insecure (grep /etc)", cases)).toEqual([]);
});

test("apt on every node fetches the depot's index over TLS, signed, with no warning", async () => {
  const cases: [string, () => Promise<string | undefined>][] = NODES.map((n) => [
    n,
    async () => {
      const list = (await labExec(n, "cat /etc/apt/sources.list.d/k8s-ha-offline.list", { check: true })).stdout;
      // The depots come through apt's mirror method (issue 16): the source names the mirror list, which names every depot over https.
      if (!/^deb \[signed-by=\S+\] mirror\+file:\/etc\/apt\/k8s-ha-offline\.mirrors \.\/$/m.test(list) || list.includes("trusted=yes")) return `source: ${list.trim()}`;
      const mirrors = (await labExec(n, "cat /etc/apt/k8s-ha-offline.mirrors", { check: true })).stdout.trim().split("\n");
      if (mirrors.length !== 3 || mirrors.some((m) => !m.startsWith("https://"))) return `mirror list: ${mirrors.join(", ")}`;
      const r = await labExec(n, "apt-get update -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/k8s-ha-offline.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 2>&1; echo exit=$?");
      if (!/exit=0$/.test(r.stdout.trim())) return r.stdout.trim().split("\n").slice(-3).join(" | ");
      if (/^(W|E):/m.test(r.stdout) || /unsigned|not signed|insecure/i.test(r.stdout)) return r.stdout.trim().split("\n").filter((l) => /^(W|E):/.test(l)).join(" | ");
      return /InRelease/.test(r.stdout) ? undefined : "no InRelease fetched";
    },
  ]);
  expect(await sweep("apt: TLS and signed index on every node", cases)).toEqual([]);
});

test("every image in containerd's store on every node is the one the bundle lock names (pinned by digest)", async () => {
  const lock = await bundleLock();
  // By "name:tag", the last part of a reference: the node names kubeadm's images <depot>/google_containers/<name>:<tag>.
  const last = (ref: string) => ref.slice(ref.lastIndexOf("/") + 1);
  const locked = new Map(lock.images.map((i) => [last(i.ref), i.digest]));
  const cases: [string, () => Promise<string | undefined>][] = NODES.map((n) => [
    n,
    async () => {
      const rows = (await labExec(n, "ctr -n k8s.io images ls 2>/dev/null | awk 'NR>1 {print $1, $3}'", { check: true })).stdout.trim().split("\n").filter(Boolean);
      const named = rows.map((l) => l.split(" ") as [string, string]).filter(([ref]) => !ref.includes("@sha256:") && locked.has(last(ref)));
      if (named.length < 3) return `only ${named.length} of the lock's images named on the node`;
      const wrong = named.filter(([ref, digest]) => locked.get(last(ref)) !== digest);
      return wrong.length ? `not the lock's digest: ${wrong.map(([r]) => r).join(", ")}` : undefined;
    },
  ]);
  expect(await sweep("images pinned to the lock's digests", cases)).toEqual([]);
});

test("downloads on the nodes stay private: the download directory is 0700 root and empty, no predictable /tmp files", async () => {
  const cases: [string, () => Promise<string | undefined>][] = NODES.map((n) => [
    n,
    async () => {
      const r = await labExec(n, "stat -c '%a %u %F' /var/lib/k8s-ha-offline-node/tmp; ls -A /var/lib/k8s-ha-offline-node/tmp; ls -d /tmp/k8s-ha-offline-* 2>/dev/null; true");
      return r.stdout.trim() === "700 0 directory" ? undefined : r.stdout.trim().replace(/\n/g, " | ");
    },
  ]);
  expect(await sweep("downloads private (0700 dir, nothing left)", cases)).toEqual([]);
});
