// Smoke test that VRRP works in the lab (issue 3): Debian's keepalived on three
// nodes moves the VIP when its holder stops and takes it back by priority.
// keepalived comes from Debian's .debs installed for this test only, then purged.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Lab, labExec, labDown, labInstallDebs, labPurgeDebs, labUp, run, waitUntil } from "./lab-client";

const MIN = 60_000;
const VRRP_NODES = ["master1", "master2", "master3"];
const PRIORITY: Record<string, number> = { master1: 150, master2: 100, master3: 50 };
let lab: Lab;
let installed: string[] = [];
let packagesBefore = "";

const dpkgList = (node: string) => labExec(node, "dpkg-query -W -f '${Package} ${Version} ${Status}\\n'", { check: true }).then((r) => r.stdout);

// Test-only values: a router id and password the installer never uses.
const keepalivedConf = (node: string, vip: string) => `global_defs {
  router_id lab-${node}
}
vrrp_instance LAB_SMOKE {
  state BACKUP
  interface host0
  virtual_router_id 77
  priority ${PRIORITY[node]}
  advert_int 1
  authentication {
    auth_type PASS
    auth_pass labsmoke
  }
  virtual_ipaddress {
    ${vip}/24 dev host0
  }
}
`;

/** Nodes that have the VIP on host0 right now. */
async function holders(): Promise<string[]> {
  const has = await Promise.all(
    VRRP_NODES.map(async (n) => (await labExec(n, `ip -4 -o addr show dev host0 | grep -qF ' ${lab.vip}/' && echo yes`)).stdout.trim() === "yes"),
  );
  return VRRP_NODES.filter((_, i) => has[i]);
}

/** Who answers at the VIP, asked from the host over the bridge (ARP follows the VIP). */
async function answererAtVip(): Promise<string> {
  const res = await run([
    "ssh", "-i", lab.ssh_key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", `root@${lab.vip}`, "hostname",
  ]);
  return res.stdout.trim();
}

async function expectHolder(node: string) {
  const started = Date.now();
  await waitUntil(`the VIP on ${node} only`, async () => (await holders()).join() === node, { timeoutMs: 30_000 });
  console.log(`VIP on ${node} after ${Date.now() - started} ms of polling (information only)`);
  expect(await holders()).toEqual([node]);
  await waitUntil(`${node} to answer at the VIP from the host`, async () => (await answererAtVip()) === node, { timeoutMs: 15_000 });
}

beforeAll(async () => {
  lab = await labUp();
  // A lab that an install already ran on has keepalived of its own: start afresh.
  if ((await labExec("master1", "dpkg-query -W -f '${Status}' keepalived")).stdout.includes("ok installed")) {
    await labDown();
    lab = await labUp();
  }
  packagesBefore = await dpkgList("master1");
  installed = await labInstallDebs(VRRP_NODES, ["keepalived"]);
  await Promise.all(
    VRRP_NODES.map((n) =>
      labExec(n, "mkdir -p /etc/keepalived && cat > /etc/keepalived/keepalived.conf && systemctl restart keepalived", {
        check: true,
        stdin: keepalivedConf(n, lab.vip),
      }),
    ),
  );
}, 15 * MIN);

afterAll(async () => {
  await Promise.all(VRRP_NODES.map((n) => labExec(n, "systemctl stop keepalived; rm -rf /etc/keepalived")));
  await labPurgeDebs(VRRP_NODES, installed);
}, 5 * MIN);

test("keepalived came from the test's .debs, not from the base", () => {
  expect(installed).toContain("keepalived");
  expect(packagesBefore).not.toContain("keepalived");
});

test("the highest priority node takes the VIP and the host reaches it there", async () => {
  await expectHolder("master1");
}, 2 * MIN);

test("the VIP moves when its holder's keepalived stops", async () => {
  await labExec("master1", "systemctl stop keepalived", { check: true });
  await expectHolder("master2");
  await labExec("master2", "systemctl stop keepalived", { check: true });
  await expectHolder("master3");
}, 2 * MIN);

test("the VIP returns by priority when keepalived starts again", async () => {
  await labExec("master2", "systemctl start keepalived", { check: true });
  await expectHolder("master2");
  await labExec("master1", "systemctl start keepalived", { check: true });
  await expectHolder("master1");
}, 2 * MIN);

test("purging keepalived leaves the nodes' packages as they were", async () => {
  await Promise.all(VRRP_NODES.map((n) => labExec(n, "systemctl stop keepalived; rm -rf /etc/keepalived", { check: true })));
  await labPurgeDebs(VRRP_NODES, installed);
  for (const n of VRRP_NODES) {
    expect({ node: n, packages: await dpkgList(n) }).toEqual({ node: n, packages: packagesBefore });
    expect((await holders()).length).toBe(0);
  }
  installed = [];
}, 5 * MIN);
