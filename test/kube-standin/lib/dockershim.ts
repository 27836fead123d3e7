// The 1.22/1.23 kubelet's built-in docker runtime (dockershim), as far as the installer can get it
// wrong: the kubelet is started with --container-runtime docker (the default before 1.24; kubeadm writes
// only --network-plugin=cni for the dockershim socket), talks to dockerd at /var/run/docker.sock, exits
// when docker does not answer or when docker's cgroup driver differs from its own, and pulls the images
// it runs through the docker daemon (not around it) when they are absent. The stand-in does the same
// checks with the docker CLI at that socket and records what it found ("dockershim").
import fs from "node:fs";
import { rooted } from "./env.ts";
import { fail } from "./errors.ts";
import { parseVersion } from "./versions.ts";

export const DOCKER_SOCKET = "/var/run/docker.sock";
const DOCKER_CLI = ["/usr/local/bin/docker", "/usr/bin/docker"];

/**
 * The kubelet's runtime: --container-runtime, else docker before 1.24 (dockershim was the default),
 * remote after (the flag is gone in 1.27).
 */
export function containerRuntime(flag: string | undefined, version: string): "docker" | "remote" {
  const minor = parseVersion(version).minor;
  if (flag !== undefined && flag !== "docker" && flag !== "remote") fail(`failed to run Kubelet: unsupported CRI runtime: "${flag}"`);
  if (flag === "docker" && minor >= 24) fail(`failed to run Kubelet: unsupported CRI runtime: "docker" (dockershim was removed in 1.24)`);
  return (flag as "docker" | "remote" | undefined) ?? (minor < 24 ? "docker" : "remote");
}

/** The docker CLI the checks use: KUBE_STANDIN_DOCKER (tests), else where the installer or a package puts it. */
function dockerCli(): string | undefined {
  return process.env.KUBE_STANDIN_DOCKER ?? DOCKER_CLI.find((p) => fs.existsSync(p));
}

export function docker(args: string[], timeoutMs = 60_000): { ok: boolean; out: string; err: string } {
  const cli = dockerCli();
  if (!cli) return { ok: false, out: "", err: "docker: command not found" };
  const r = Bun.spawnSync([cli, "-H", `unix://${rooted(DOCKER_SOCKET)}`, ...args], { stdout: "pipe", stderr: "pipe", timeout: timeoutMs, env: process.env });
  return { ok: r.exitCode === 0, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

export interface DockerFacts {
  runtime: "dockershim";
  dockerVersion: string;
  cgroupDriver: string;
}

/** What the real kubelet checks before it starts anything: docker answers, and its cgroup driver is the kubelet's. */
export function checkDocker(endpoint: string | undefined, kubeletCgroupDriver: string): DockerFacts {
  // --container-runtime-endpoint is dockershim's own socket with docker; the daemon's is fixed.
  if (endpoint && !/dockershim\.sock$/.test(endpoint))
    fail(`failed to run Kubelet: with --container-runtime=docker the endpoint must be dockershim's socket, got ${endpoint}`);
  if (!fs.existsSync(rooted(DOCKER_SOCKET)))
    fail(`failed to run Kubelet: failed to create kubelet: failed to get docker version: Cannot connect to the Docker daemon at unix://${DOCKER_SOCKET}. Is the docker daemon running?`);
  const info = docker(["info", "--format", "{{.ServerVersion}} {{.CgroupDriver}}"]);
  const [version, driver] = info.out.split(" ");
  if (!info.ok || !version || !driver)
    fail(`failed to run Kubelet: failed to create kubelet: failed to get docker version: ${info.err || info.out || "docker info gave no answer"}`);
  if (driver !== kubeletCgroupDriver)
    fail(`failed to run Kubelet: misconfiguration: kubelet cgroup driver: "${kubeletCgroupDriver}" is different from docker cgroup driver: "${driver}"`);
  return { runtime: "dockershim", dockerVersion: version, cgroupDriver: driver };
}

/**
 * The images pods need, through the docker daemon as dockershim asks it: present ones are used
 * (imagePullPolicy IfNotPresent), absent ones are pulled by docker. Returns what was present and what
 * was pulled; a pull docker refuses fails with docker's own message, as the kubelet's ErrImagePull does.
 */
export function ensureImages(images: string[]): { present: string[]; pulled: string[] } {
  const present: string[] = [];
  const pulled: string[] = [];
  for (const image of [...new Set(images)]) {
    if (docker(["image", "inspect", "--format", "{{.Id}}", image]).ok) {
      present.push(image);
      continue;
    }
    const p = docker(["pull", image], 900_000);
    if (!p.ok) fail(`Failed to pull image "${image}": rpc error: code = Unknown desc = ${p.err || p.out}`);
    pulled.push(image);
  }
  return { present, pulled };
}

/** Every name docker holds (repo:tag and repo@digest), as dockershim's ImageExists would find them; empty when docker does not answer. */
export function dockerImageNames(): Set<string> {
  if (!fs.existsSync(rooted(DOCKER_SOCKET))) return new Set();
  const r = docker(["image", "ls", "--digests", "--format", "{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}"]);
  if (!r.ok) return new Set();
  return new Set(r.out.split(/\s+/).filter((n) => n && !n.endsWith(":<none>") && !n.endsWith("@<none>")));
}
