// What the node's container runtime already holds, as real kubeadm asks the CRI (ImageExists) before it
// pulls with nodeRegistration.imagePullPolicy IfNotPresent (the default, and what the installer sets):
// an image present under its name is not pulled again. The installer pins every image to the bundle
// lock's digest beforehand, so in the lab kubeadm finds them all and pulls nothing by tag.
// containerd's k8s.io namespace is read with ctr at the CRI socket; no socket (tests under
// KUBE_STANDIN_ROOT, a node without containerd) or another runtime: nothing is present. With the
// dockershim socket, docker's own store is asked (lib/dockershim.ts).
import fs from "node:fs";
import { rooted } from "./env.ts";
import { dockerImageNames } from "./dockershim.ts";

const CTR = ["/usr/local/bin/ctr", "/usr/bin/ctr"];
const DEFAULT_SOCKET = "/run/containerd/containerd.sock";

/** The image names in containerd's k8s.io namespace behind this CRI socket. */
export function runtimeImages(criSocket: string | undefined): Set<string> {
  // dockershim (1.22/1.23): kubeadm asks docker itself.
  if (/dockershim\.sock$/.test(criSocket ?? "")) return dockerImageNames();
  const socket = rooted((criSocket ?? DEFAULT_SOCKET).replace(/^unix:\/\//, ""));
  const ctr = CTR.find((p) => fs.existsSync(p));
  if (!socket.endsWith("containerd.sock") || !fs.existsSync(socket) || !ctr) return new Set();
  const r = Bun.spawnSync([ctr, "--address", socket, "-n", "k8s.io", "images", "ls", "-q"], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) return new Set();
  return new Set(r.stdout.toString().split("\n").map((l) => l.trim()).filter(Boolean));
}
