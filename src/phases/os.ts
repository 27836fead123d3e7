// Phase "os": section 二 of the reference guide (../shared/seed/, a Chinese kubeadm HA guide) —
// hostname, hosts, firewall, SELinux, swap — plus what kubeadm needs from the kernel (modules,
// sysctls). Where the lab shares the host's kernel, a step that cannot apply says "skipped: <why>"
// instead of failing or pretending.
import type { ClusterConfig } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import { sh, shJoin } from "../util/sh.ts";
import { stepsPhase, NOTHING, todo, skip, type Step } from "./steps.ts";
import { readText, inContainer } from "./util/node.ts";
import { firewallPorts } from "../config/ports.ts";

const BEGIN = "# BEGIN k8s-ha-offline managed block: do not edit, re-run install instead";
const END = "# END k8s-ha-offline managed block";

export function hostsBlock(config: ClusterConfig): string {
  const lines = config.hosts.map((h) => [h.address, h.name, ...h.aliases].join(" "));
  return [BEGIN, ...lines, END].join("\n");
}

/** /etc/hosts with our block replaced (or appended); everything else kept as it was. */
export function withHostsBlock(current: string, block: string): string {
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  if (start >= 0 && end > start) return current.slice(0, start) + block + current.slice(end + END.length);
  return `${current.replace(/\n*$/, "")}\n${block}\n`;
}

const hostname: Step = {
  name: "hostname",
  async check(host, _ctx, node) {
    const cur = (await host.exec(sh`hostname`)).stdout.trim();
    const file = (await readText(host, "/etc/hostname"))?.trim();
    return cur === node.name && file === node.name ? NOTHING : todo(`hostname is "${cur}", want "${node.name}"`);
  },
  async run(host, _ctx, node) {
    await host.exec(sh`hostnamectl set-hostname ${node.name} 2>/dev/null || hostname ${node.name}`);
    await host.writeFile("/etc/hostname", `${node.name}\n`, { mode: 0o644 });
  },
};

const hostsFile: Step = {
  name: "hosts",
  async check(host, ctx) {
    const cur = (await readText(host, "/etc/hosts")) ?? "";
    return withHostsBlock(cur, hostsBlock(ctx.config)) === cur ? NOTHING : todo("/etc/hosts lacks the cluster block");
  },
  async run(host, ctx) {
    const cur = (await readText(host, "/etc/hosts")) ?? "127.0.0.1 localhost\n";
    await host.writeFile("/etc/hosts", withHostsBlock(cur, hostsBlock(ctx.config)), { mode: 0o644 });
  },
};

const swap: Step = {
  name: "swap",
  async check(host) {
    const r = await host.exec(sh`awk 'NR>1' /proc/swaps | wc -l; grep -Ev '^[[:space:]]*#' /etc/fstab 2>/dev/null | awk '$3=="swap"' | wc -l`);
    const [active, fstab] = r.stdout.trim().split("\n").map(Number);
    if (active || fstab) return todo(`${active} active swap area(s), ${fstab} swap line(s) in /etc/fstab`);
    return NOTHING;
  },
  async run(host) {
    await host.exec(sh`swapoff -a`);
    // Comment out, never delete: the operator can see what was there.
    await host.exec(sh`[ -f /etc/fstab ] && sed -ri.k8s-ha-offline.bak '/^[^#].*[[:space:]]swap[[:space:]]/s/^/# disabled by k8s-ha-offline: /' /etc/fstab || true`);
  },
};

const selinux: Step = {
  name: "selinux",
  async check(host) {
    if (!(await host.readFile("/etc/selinux/config"))) return skip("no SELinux on this OS");
    const r = await host.exec(sh`getenforce 2>/dev/null; grep -E '^SELINUX=' /etc/selinux/config`, { check: false });
    const [mode, cfg] = r.stdout.trim().split("\n");
    return mode === "Enforcing" || cfg === "SELINUX=enforcing" ? todo(`SELinux ${mode}, ${cfg}`) : NOTHING;
  },
  async run(host) {
    await host.exec(sh`setenforce 0 || true; sed -ri 's/^SELINUX=enforcing/SELINUX=permissive/' /etc/selinux/config`);
  },
};

const firewall: Step = {
  name: "firewall",
  async check(host, ctx) {
    const active = (await host.exec(sh`systemctl is-active firewalld`, { check: false })).stdout.trim() === "active";
    if (!active) return (await host.exec(sh`command -v firewall-cmd`, { check: false })).code ? skip("firewalld is not installed") : NOTHING;
    if (ctx.config.firewall === "disable") return todo("firewalld is running");
    const have = (await host.exec(sh`firewall-cmd --list-ports`)).stdout;
    const want = firewallPorts(ctx.config);
    return want.every((p) => have.includes(p)) ? NOTHING : todo("firewalld does not open every cluster port");
  },
  async run(host, ctx) {
    if (ctx.config.firewall === "disable") return void (await host.exec(sh`systemctl disable --now firewalld`));
    const ports = firewallPorts(ctx.config);
    await host.exec(shJoin([...ports.map((p) => sh`firewall-cmd --permanent --add-port=${p}`), sh`firewall-cmd --permanent --add-protocol=vrrp`, sh`firewall-cmd --reload`], " && "));
  },
};

const MODULES = ["overlay", "br_netfilter"];
const kernelModules: Step = {
  name: "kernel-modules",
  async check(host) {
    const conf = await readText(host, "/etc/modules-load.d/k8s.conf");
    const loaded = (await host.exec(sh`cat /proc/modules`, { check: false })).stdout;
    const missing = MODULES.filter((m) => !new RegExp(`^${m} `, "m").test(loaded));
    if (conf !== MODULES.join("\n") + "\n") return todo("modules not configured to load at boot");
    if (!missing.length) return NOTHING;
    if (await inContainer(host)) return skip(`${missing.join(", ")} not loaded and a container cannot load kernel modules (the host kernel must)`);
    return todo(`${missing.join(", ")} not loaded`);
  },
  async run(host) {
    await host.writeFile("/etc/modules-load.d/k8s.conf", MODULES.join("\n") + "\n", { mode: 0o644 });
    const container = await inContainer(host);
    for (const m of MODULES) {
      const r = await host.exec(sh`modprobe ${m}`, { check: false });
      if (r.code && !container) throw new Error(`modprobe ${m} failed: ${r.stderr.trim()}`);
    }
  },
};

const SYSCTLS: Record<string, string> = {
  "net.ipv4.ip_forward": "1",
  "net.bridge.bridge-nf-call-iptables": "1",
  "net.bridge.bridge-nf-call-ip6tables": "1",
};
const SYSCTL_FILE = "/etc/sysctl.d/99-kubernetes.conf";
const sysctlConf = Object.entries(SYSCTLS).map(([k, v]) => `${k} = ${v}`).join("\n") + "\n";
const sysctlPath = (k: string) => `/proc/sys/${k.replace(/\./g, "/")}`;

async function sysctlGaps(host: Host): Promise<{ wrong: string[]; absent: string[] }> {
  const wrong: string[] = [];
  const absent: string[] = [];
  for (const [k, v] of Object.entries(SYSCTLS)) {
    const cur = await readText(host, sysctlPath(k));
    if (cur === null) absent.push(k);
    else if (cur.trim() !== v) wrong.push(k);
  }
  return { wrong, absent };
}

const sysctl: Step = {
  name: "sysctl",
  async check(host) {
    if ((await readText(host, SYSCTL_FILE)) !== sysctlConf) return todo(`${SYSCTL_FILE} missing or different`);
    const { wrong, absent } = await sysctlGaps(host);
    if (wrong.length) return todo(`${wrong.join(", ")} not set`);
    if (absent.length) return skip(`${absent.join(", ")} do not exist in this kernel namespace (br_netfilter not loaded for it)`);
    return NOTHING;
  },
  async run(host) {
    await host.writeFile(SYSCTL_FILE, sysctlConf, { mode: 0o644 });
    const container = await inContainer(host);
    for (const [k, v] of Object.entries(SYSCTLS)) {
      const r = await host.exec(sh`[ ! -e ${sysctlPath(k)} ] || sysctl -w ${`${k}=${v}`}`, { check: false });
      if (r.code && !container) throw new Error(`sysctl -w ${k}=${v} failed: ${r.stderr.trim()}`);
    }
  },
};

export const os = stepsPhase({
  name: "os",
  title: "Hostname, /etc/hosts block, swap off, SELinux permissive, firewall, kernel modules and sysctls",
  hosts: (c) => c.hosts,
  steps: [hostname, hostsFile, swap, selinux, firewall, kernelModules, sysctl],
});
