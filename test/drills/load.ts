// Load while a drill breaks or changes the cluster (issue 16's master-down drill, issue 18's upgrade): a
// TLS prober on node1 to https://VIP:9443/readyz every 0.2 s, an etcd writer that logs only acknowledged
// puts, and how their logs are judged (longest gap, failures after the grace, acknowledged writes lost).
import { labExec, readLab } from "../lab/lab-client.ts";
import { MASTERS } from "../e2e/support.ts";

export const ADDR: Record<string, string> = { master1: "192.168.217.19", master2: "192.168.217.20", master3: "192.168.217.21", node1: "192.168.217.22" };
export const ETCDCTL =
  "ETCDCTL_API=3 /usr/local/bin/etcdctl --cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key " +
  `--endpoints=${MASTERS.map((m) => `https://${ADDR[m]}:2379`).join(",")}`;
export const GRACE_S = 5;

export const vip = () => readLab().vip;

/** A background loop on `node`, its output in `log`; returns its pid there. */
export async function startLoop(node: string, log: string, body: string): Promise<number> {
  const quoted = `'${body.replace(/'/g, "'\\''")}'`;
  const r = await labExec(node, `nohup sh -c ${quoted} > ${log} 2>&1 < /dev/null & echo $!`, { check: true });
  return Number(r.stdout.trim());
}

/** The prober: "<epoch seconds> <http code> <curl exit>" every 0.2 s (000 when the request failed; the exit says how: 7 refused, 28 timed out, 35/56 TLS or connection reset). */
export const startProber = (log: string) =>
  startLoop(
    "node1",
    log,
    `while :; do t=$(date +%s.%N); c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 --cacert /etc/kubernetes/pki/ca.crt https://${vip()}:9443/readyz); r=$?; echo "$t $c $r"; sleep 0.2; done`,
  );

/** The writer on a master that stays up: "ack <i>" only when etcdctl says the put succeeded. */
export const startWriter = (node: string, log: string, prefix: string) =>
  startLoop(node, log, `i=0; while :; do i=$((i+1)); if ${ETCDCTL} --command-timeout=3s put ${prefix}/k$i v$i >/dev/null 2>&1; then echo "ack $i"; else echo "fail $i"; fi; sleep 0.1; done`);

export const nowOn = async (node: string) => Number((await labExec(node, "date +%s.%N", { check: true })).stdout.trim());

export interface ProbeVerdict {
  sent: number;
  failed: number;
  /** Longest run without a 200 after the cut, seconds. */
  longestGap: number;
  /** Failures later than the cut + GRACE_S. */
  lateFailures: number;
  /** Each late failure: seconds after the cut, the HTTP code and curl's exit. */
  late: string[];
  /** Failures in the victim's return window (see judgeProbes), not counted as late. */
  atReturn: number;
}

/**
 * The prober's log against a cut at `cut` (the node's clock, seconds): failures later than cut + GRACE_S
 * are late. `ret`, when the victim came back: from the power-on until GRACE_S after it was up is the
 * return's own window, as the cut has its own: a returning master takes the VIP back by priority, and a
 * VIP move costs about one request (verify --failover's keepalived figures), so its failures are counted
 * apart (atReturn) and judged by the caller; any failure outside both windows is late.
 */
export function judgeProbes(log: string, cut: number, ret?: { from: number; to: number }): ProbeVerdict {
  const probes = log.split("\n").filter(Boolean).map((l) => {
    const [t, code, exit] = l.split(" ");
    return { t: Number(t), ok: code === "200", code, exit };
  }).filter((p) => p.t >= cut);
  const returning = (t: number) => ret !== undefined && t >= ret.from && t <= ret.to + GRACE_S;
  const late = probes.filter((p) => !p.ok && p.t > cut + GRACE_S && !returning(p.t));
  let longestGap = 0;
  let lastOk = cut;
  for (const p of probes) {
    if (p.ok) lastOk = p.t;
    else longestGap = Math.max(longestGap, p.t - lastOk);
  }
  return {
    sent: probes.length,
    failed: probes.filter((p) => !p.ok).length,
    longestGap,
    lateFailures: late.length,
    late: late.map((p) => `+${(p.t - cut).toFixed(1)} s (http ${p.code}, curl exit ${p.exit ?? "?"})`),
    atReturn: probes.filter((p) => !p.ok && p.t > cut + GRACE_S && returning(p.t)).length,
  };
}

export async function waitHealthy(timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const h = await labExec("master3", `${ETCDCTL} endpoint health 2>&1`);
    const api = await labExec("node1", `curl -sf --max-time 3 --cacert /etc/kubernetes/pki/ca.crt https://${vip()}:9443/readyz`);
    if ((h.stdout.match(/is healthy/g)?.length ?? 0) === 3 && api.code === 0) return;
    if (Date.now() > deadline) throw new Error(`the cluster did not come back healthy within ${timeoutMs / 1000} s:\n${h.stdout}`);
    await Bun.sleep(3000);
  }
}

export const gapNote = (p: ProbeVerdict) =>
  `longest gap ${p.longestGap.toFixed(1)} s, ${p.failed}/${p.sent} failed, ${p.lateFailures} after ${GRACE_S} s${p.late.length ? `: ${p.late.slice(0, 5).join(", ")}` : ""}`;

/** The writer's acknowledged keys that etcd no longer holds (read on `node`, which has etcdctl and the client files). */
export async function lostWrites(node: string, log: string, prefix: string): Promise<{ acked: number; lost: string[] }> {
  const ackedKeys = [...(await labExec(node, `cat ${log}`, { check: true })).stdout.matchAll(/^ack (\d+)$/gm)].map((m) => `${prefix}/k${m[1]}`);
  const stored = new Set((await labExec(node, `${ETCDCTL} get ${prefix}/ --prefix --keys-only`, { check: true, timeoutMs: 60_000 })).stdout.split("\n").filter(Boolean));
  return { acked: ackedKeys.length, lost: ackedKeys.filter((k) => !stored.has(k)) };
}
