// Process-wide facts of the stand-in: the version it pretends to be, the root it writes under,
// the node it runs on, and how to re-launch itself as another tool.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

declare const KUBE_STANDIN_BAKED_VERSION: string | undefined;

/** The Kubernetes version this build pretends to be, always with a leading "v". */
export function standinVersion(): string {
  // Baked in by build.sh via --define; when run from source the environment decides.
  const baked = typeof KUBE_STANDIN_BAKED_VERSION === "string" ? KUBE_STANDIN_BAKED_VERSION : undefined;
  const v = baked ?? process.env.KUBE_STANDIN_VERSION ?? "v1.22.2";
  return v.startsWith("v") ? v : `v${v}`;
}

/** KUBE_STANDIN_ROOT prefixes every absolute path the stand-in touches, so tests never write the real /etc. */
export function rooted(p: string): string {
  const root = process.env.KUBE_STANDIN_ROOT;
  if (!root || !path.isAbsolute(p) || p.startsWith(root + "/")) return p;
  return path.join(root, p);
}

/** The node name a real kubeadm would default to (the hostname); overridable for tests that fake many nodes on one machine. */
export function hostName(): string {
  return (process.env.KUBE_STANDIN_HOSTNAME ?? os.hostname()).toLowerCase();
}

/** argv prefix that starts this same program again (compiled binary, or bun + source file). */
export function selfCommand(): string[] {
  const script = process.argv[1] ?? "";
  // A package upgrade replaces the file under a running kubelet: /proc/self/exe then reads "PATH (deleted)",
  // and the path (the new binary) is what starts the next apiserver.
  const exe = process.execPath.replace(/ \(deleted\)$/, "");
  return script.startsWith("/$bunfs/") || script === "" ? [exe] : [exe, script];
}

/** Whether kubelet is supervised by systemd (lab nodes) or started by the stand-in itself (tests). */
export function useSystemd(): boolean {
  const forced = process.env.KUBE_STANDIN_SUPERVISOR;
  if (forced === "systemd") return true;
  if (forced === "self") return false;
  return !process.env.KUBE_STANDIN_ROOT && fs.existsSync("/run/systemd/system");
}

/**
 * Where the apiserver listens: --bind-address, else 0.0.0.0 as the real one does. Under
 * KUBE_STANDIN_ROOT (several fake nodes on one machine) it is the advertise address instead, so
 * apiservers on 127.0.0.x can share one port.
 */
export function apiserverBindHost(advertise: string, bindAddress?: string): string {
  if (bindAddress) return bindAddress;
  return process.env.KUBE_STANDIN_ROOT ? advertise : "0.0.0.0";
}
