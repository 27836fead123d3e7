// Issue 6: haproxy's /readyz health checks against the running (stand-in) apiservers: every backend
// UP and used; one whose apiserver stops is taken out of rotation (DOWN on the admin socket) and
// no request through the VIP fails after the check interval; it comes back when it is ready again.
import { afterAll, expect, test } from "bun:test";
import { labExec, waitUntil } from "../lab/lab-client.ts";
import { MASTERS } from "./support.ts";

const VIP = "192.168.217.100";
const stat = async () => (await labExec("master1", "echo 'show stat' | socat stdio /var/lib/haproxy/admin.sock")).stdout;
/** server -> [status, total sessions] from haproxy's CSV (columns 18 and 8). */
const servers = async () =>
  new Map(
    (await stat())
      .split("\n")
      .filter((l) => l.startsWith("kube-apiserver,master"))
      .map((l) => l.split(","))
      .map((c) => [c[1]!, [c[17]!, Number(c[7])] as const]),
  );
const request = () => labExec("node1", `curl -s --max-time 3 --cacert /etc/kubernetes/pki/ca.crt https://${VIP}:9443/readyz`);

test("every apiserver is UP behind haproxy and takes its share of requests", async () => {
  await waitUntil("three backends UP", async () => [...(await servers()).values()].every(([s]) => s === "UP"), { timeoutMs: 60_000 });
  const before = await servers();
  for (let i = 0; i < 12; i++) expect((await request()).stdout.trim()).toBe("ok");
  const after = await servers();
  for (const m of MASTERS) expect({ m, more: after.get(m)![1] > before.get(m)![1] }).toEqual({ m, more: true });
});

test("a stopped apiserver leaves rotation and no request fails after the check interval", async () => {
  await labExec("master2", "systemctl stop kubelet; pkill -f '[k]ube-standin apiserver' || true", { check: true });
  await waitUntil("master2 DOWN in haproxy", async () => (await servers()).get("master2")![0].startsWith("DOWN"), { timeoutMs: 30_000 });
  let failed = 0;
  for (let i = 0; i < 20; i++) if ((await request()).stdout.trim() !== "ok") failed++;
  expect(failed).toBe(0);
});

afterAll(async () => {
  await labExec("master2", "systemctl start kubelet");
  await waitUntil("master2 UP again", async () => (await servers()).get("master2")![0] === "UP", { timeoutMs: 90_000 }).catch(() => undefined);
});
