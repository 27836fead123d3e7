// One read-only shell script gathers everything preflight needs from a node in a single round trip.
// It must run on a bare CentOS 7 as well as Debian 12: POSIX sh, coreutils, iproute2, nothing else.
import type { Host } from "../../hosts/host.ts";
import { sh } from "../../util/sh.ts";

export interface NodeFacts {
  osId: string;
  osVersion: string;
  osLike: string;
  arch: string;
  cpus: number;
  memMiB: number;
  swapActive: boolean;
  swapInFstab: boolean;
  hostname: string;
  productUuid: string;
  machineId: string;
  /** systemd-detect-virt -c: "none" on real machines and VMs, e.g. "systemd-nspawn" in containers. */
  container: string;
  /** Node clock, seconds since epoch, and the installer's clock at the moment the answer arrived. */
  clock: number;
  localClockAtReply: number;
  roundTripS: number;
  /** interface -> IPv4 CIDRs */
  addrs: Record<string, string[]>;
  macs: Record<string, string>;
  /** port -> process name (or "?" when ss cannot tell) */
  listening: Map<number, string>;
  rootFreeMiB: number;
  /** Files that show an earlier cluster was (partly) installed. */
  remnants: string[];
  /** Content of our marker, when the node was prepared by this installer. */
  marker: string;
  /**
   * cgroup drivers already set on the node, each with where it was read ("docker info",
   * "/etc/docker/daemon.json", "/var/lib/kubelet/config.yaml", "/etc/default/kubelet", …): a docker and a
   * kubelet that disagree make the 1.22 kubelet exit ("misconfiguration: kubelet cgroup driver …").
   */
  dockerCgroup: { driver: string; source: string }[];
  kubeletCgroup: { driver: string; source: string }[];
}

export const MARKER_FILE = "/etc/k8s-ha-offline/cluster";

// sh``: the script has no backslash, so cooked and raw literal parts are the same text.
const SCRIPT = sh`
. /etc/os-release 2>/dev/null
echo "os_id=$ID"; echo "os_version=$VERSION_ID"; echo "os_like=$ID_LIKE"
echo "arch=$(uname -m)"; echo "cpus=$(nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo)"
echo "mem_kb=$(awk '/^MemTotal:/{print $2}' /proc/meminfo)"
echo "swaps=$(awk 'NR>1' /proc/swaps 2>/dev/null | wc -l)"
echo "swap_fstab=$(grep -Ev '^[[:space:]]*#' /etc/fstab 2>/dev/null | awk '$3=="swap"' | wc -l)"
echo "hostname=$(hostname)"
echo "product_uuid=$(cat /sys/class/dmi/id/product_uuid 2>/dev/null)"
echo "virt=$(systemd-detect-virt -c 2>/dev/null)"
echo "machine_id=$(cat /etc/machine-id 2>/dev/null)"
ip -o -4 addr show 2>/dev/null | awk '{print "addr=" $2 " " $4}'
ip -o link show 2>/dev/null | awk '{for(i=1;i<=NF;i++) if($i=="link/ether") print "mac=" $2 " " $(i+1)}'
ss -Htlnp 2>/dev/null | awk '{print "listen=" $4 " " $6}'
echo "root_free_kb=$(df -Pk / | awk 'NR==2{print $4}')"
for f in /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/admin.conf /var/lib/etcd/member /var/lib/kubelet/config.yaml; do
  [ -e "$f" ] && echo "remnant=$f"
done
echo "marker=$(cat ${MARKER_FILE} 2>/dev/null)"
if command -v docker >/dev/null 2>&1; then echo "docker_cgroup=docker info $(docker info --format '{{.CgroupDriver}}' 2>/dev/null)"; fi
if [ -f /etc/docker/daemon.json ]; then echo "docker_cgroup=/etc/docker/daemon.json $(grep -o 'native.cgroupdriver=[a-z]*' /etc/docker/daemon.json | head -n 1 | cut -d= -f2)"; fi
if [ -f /var/lib/kubelet/config.yaml ]; then echo "kubelet_cgroup=/var/lib/kubelet/config.yaml $(awk '$1=="cgroupDriver:"{print $2}' /var/lib/kubelet/config.yaml)"; fi
for f in /etc/default/kubelet /etc/sysconfig/kubelet /var/lib/kubelet/kubeadm-flags.env; do
  if [ -f "$f" ]; then echo "kubelet_cgroup=$f $(grep -o -- '--cgroup-driver=[a-z]*' "$f" | tail -n 1 | cut -d= -f2)"; fi
done
# The facts end here: a missing file above is a fact, not a failure of the script.
true
`;

/** The node's clock alone: the shortest call there is, so its round trip (which the skew allows for) is small. */
const CLOCK = sh`date +%s.%N`;

export async function gatherFacts(host: Host): Promise<NodeFacts> {
  const r = await host.exec(SCRIPT, { timeoutMs: 30_000 });
  // Timed apart from the facts script: that script's own run time (ss, df, ...) is no part of the clock
  // difference, and folding it into the round trip made a node read seconds off against itself.
  const sent = Date.now() / 1000;
  const c = await host.exec(CLOCK, { timeoutMs: 10_000 });
  const got = Date.now() / 1000;
  return parseFacts(`${r.stdout}\nclock=${c.stdout.trim()}`, sent, got);
}

export function parseFacts(out: string, sent: number, got: number): NodeFacts {
  const f: NodeFacts = {
    osId: "", osVersion: "", osLike: "", arch: "", cpus: 0, memMiB: 0, swapActive: false, swapInFstab: false,
    hostname: "", productUuid: "", machineId: "", container: "none", clock: 0, localClockAtReply: got, roundTripS: got - sent,
    addrs: {}, macs: {}, listening: new Map(), rootFreeMiB: 0, remnants: [], marker: "", dockerCgroup: [], kubeletCgroup: [],
  };
  for (const line of out.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const v = line.slice(eq + 1).trim();
    switch (key) {
      case "os_id": f.osId = v; break;
      case "os_version": f.osVersion = v; break;
      case "os_like": f.osLike = v; break;
      case "arch": f.arch = v; break;
      case "cpus": f.cpus = Number(v) || 0; break;
      case "mem_kb": f.memMiB = Math.round(Number(v) / 1024) || 0; break;
      case "swaps": f.swapActive = Number(v) > 0; break;
      case "swap_fstab": f.swapInFstab = Number(v) > 0; break;
      case "hostname": f.hostname = v; break;
      case "product_uuid": f.productUuid = v; break;
      case "machine_id": f.machineId = v; break;
      case "virt": f.container = v || "none"; break;
      case "clock": f.clock = Number(v); break;
      case "root_free_kb": f.rootFreeMiB = Math.round(Number(v) / 1024) || 0; break;
      case "remnant": f.remnants.push(v); break;
      case "marker": f.marker = v; break;
      case "docker_cgroup":
      case "kubelet_cgroup": {
        // "<source> <driver>"; the source may hold spaces ("docker info"), the driver never; nothing set: no entry.
        const cut = v.lastIndexOf(" ");
        const driver = cut < 0 ? "" : v.slice(cut + 1);
        if (/^(systemd|cgroupfs)$/.test(driver)) (key === "docker_cgroup" ? f.dockerCgroup : f.kubeletCgroup).push({ driver, source: v.slice(0, cut) });
        break;
      }
      case "addr": {
        const [ifname, cidr] = v.split(" ");
        if (ifname && cidr) (f.addrs[ifname] ??= []).push(cidr);
        break;
      }
      case "mac": {
        const [ifname, mac] = v.split(" ");
        if (ifname && mac) f.macs[ifname.replace(/@.*$/, "").replace(/:$/, "")] = mac;
        break;
      }
      case "listen": {
        const [addr, proc = ""] = v.split(" ");
        const port = Number(addr?.slice(addr.lastIndexOf(":") + 1));
        const name = /users:\(\("([^"]+)"/.exec(proc)?.[1] ?? "?";
        if (port) f.listening.set(port, name);
        break;
      }
    }
  }
  return f;
}
