// The stand-in kubelet with docker (dockershim, 1.22/1.23): it checks what the real one would before it
// starts anything — docker answers at /var/run/docker.sock, docker's cgroup driver is the kubelet's,
// the images come through the docker daemon — and records "dockershim". kubeadm writes real kubeadm's
// runtime flags. A fake docker CLI (KUBE_STANDIN_DOCKER) keeps its store in a directory.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkDocker, containerRuntime, dockerImageNames, ensureImages } from "./lib/dockershim.ts";
import { runtimeImages } from "./lib/cri-images.ts";
import { detectCriSocket, runtimeFlags } from "./kubeadm/node.ts";
import { parseVersion } from "./lib/versions.ts";
import { readRecords } from "./lib/records.ts";

const dir = mkdtempSync(join(tmpdir(), "standin-dockershim-"));
const root = join(dir, "root");
const fake = join(dir, "docker");
const store = join(dir, "store");
const calls = join(dir, "calls");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// docker -H unix://SOCK info|image inspect|image ls|pull …; FAKE_DOCKER_DRIVER is its cgroup driver;
// a pull of a name containing "missing" fails as an unknown manifest.
writeFileSync(fake, `#!/bin/bash
[ "$1" = -H ] && shift 2
echo "$*" >> ${calls}
key() { printf '%s' "$1" | sha256sum | cut -c1-16; }
mkdir -p ${store}
case "$1 $2" in
  "info --format") echo "20.10.24 \${FAKE_DOCKER_DRIVER:-systemd}";;
  "image inspect") [ -f ${store}/$(key "$5") ] && echo sha256:1 || { echo "Error: No such image: $5" >&2; exit 1; };;
  "image ls") for f in ${store}/*; do [ -f "$f" ] && cat "$f"; done; true;;
  pull*) case "$2" in *missing*) echo "Error response from daemon: manifest for $2 not found: manifest unknown" >&2; exit 1;; esac
    echo "\${2%:*}:\${2##*:} <none>" > ${store}/$(key "$2"); echo "Downloaded $2";;
  *) echo "unexpected $*" >&2; exit 2;;
esac
`, { mode: 0o755 });

const sock = join(root, "var/run/docker.sock");
beforeEach(() => {
  process.env.KUBE_STANDIN_ROOT = root;
  process.env.KUBE_STANDIN_DOCKER = fake;
  delete process.env.FAKE_DOCKER_DRIVER;
  rmSync(root, { recursive: true, force: true });
  rmSync(store, { recursive: true, force: true });
  mkdirSync(join(root, "var/run"), { recursive: true });
  writeFileSync(sock, "");
  writeFileSync(calls, "");
});
afterAll(() => {
  delete process.env.KUBE_STANDIN_ROOT;
  delete process.env.KUBE_STANDIN_DOCKER;
});
const errorOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return "no error";
};

describe("dockershim", () => {
  test("the runtime: docker by default before 1.24, remote after; docker on 1.24 refused", () => {
    expect(containerRuntime(undefined, "v1.22.2")).toBe("docker");
    expect(containerRuntime("remote", "v1.22.2")).toBe("remote");
    expect(containerRuntime(undefined, "v1.24.0")).toBe("remote");
    expect(errorOf(() => containerRuntime("docker", "v1.24.0"))).toContain('unsupported CRI runtime: "docker"');
    expect(errorOf(() => containerRuntime("rkt", "v1.22.2"))).toContain('unsupported CRI runtime: "rkt"');
  });

  test("kubeadm-flags.env as real kubeadm writes it: the dockershim socket gets --network-plugin=cni only", () => {
    expect(runtimeFlags("/var/run/dockershim.sock", parseVersion("v1.22.2"))).toEqual(["--network-plugin=cni"]);
    expect(runtimeFlags("unix:///run/containerd/containerd.sock", parseVersion("v1.22.2"))).toEqual(["--container-runtime=remote", "--container-runtime-endpoint=unix:///run/containerd/containerd.sock"]);
    expect(runtimeFlags("/run/containerd/containerd.sock", parseVersion("v1.28.1"))).toEqual(["--container-runtime-endpoint=unix:///run/containerd/containerd.sock"]);
    expect(runtimeFlags(undefined, parseVersion("v1.22.2"))).toEqual([]);
  });

  test("docker must answer at its socket", () => {
    rmSync(sock);
    expect(errorOf(() => checkDocker(undefined, "systemd"))).toBe(
      "failed to run Kubelet: failed to create kubelet: failed to get docker version: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
    );
  });

  test("the cgroup drivers must match, as the real kubelet exits otherwise", () => {
    process.env.FAKE_DOCKER_DRIVER = "cgroupfs";
    expect(errorOf(() => checkDocker(undefined, "systemd"))).toBe('failed to run Kubelet: misconfiguration: kubelet cgroup driver: "systemd" is different from docker cgroup driver: "cgroupfs"');
    process.env.FAKE_DOCKER_DRIVER = "systemd";
    expect(checkDocker("/var/run/dockershim.sock", "systemd")).toEqual({ runtime: "dockershim", dockerVersion: "20.10.24", cgroupDriver: "systemd" });
    // The kubelet's own default is cgroupfs: a config without cgroupDriver does not match a systemd docker.
    expect(errorOf(() => checkDocker(undefined, "cgroupfs"))).toContain('kubelet cgroup driver: "cgroupfs" is different from docker cgroup driver: "systemd"');
    expect(errorOf(() => checkDocker("unix:///run/containerd/containerd.sock", "systemd"))).toContain("must be dockershim's socket");
  });

  test("images come through the docker daemon: present ones used, absent ones pulled, a failed pull named", () => {
    ensureImages(["10.0.0.1:5000/google_containers/pause:3.5"]);
    writeFileSync(calls, "");
    expect(ensureImages(["10.0.0.1:5000/google_containers/pause:3.5", "10.0.0.1:5000/google_containers/kube-apiserver:v1.22.2"])).toEqual({
      present: ["10.0.0.1:5000/google_containers/pause:3.5"],
      pulled: ["10.0.0.1:5000/google_containers/kube-apiserver:v1.22.2"],
    });
    expect(readFileSync(calls, "utf8")).toContain("pull 10.0.0.1:5000/google_containers/kube-apiserver:v1.22.2");
    expect(errorOf(() => ensureImages(["10.0.0.1:5000/missing:1"]))).toStartWith('Failed to pull image "10.0.0.1:5000/missing:1": rpc error: code = Unknown desc = Error response from daemon: manifest for');
    // kubeadm's ImagePull preflight asks docker too when the CRI socket is dockershim's.
    expect(runtimeImages("/var/run/dockershim.sock").has("10.0.0.1:5000/google_containers/pause:3.5")).toBe(true);
    expect(dockerImageNames().has("10.0.0.1:5000/google_containers/kube-apiserver:v1.22.2")).toBe(true);
  });
});

describe("the stand-in kubelet with docker", () => {
  const kubelet = (env: Record<string, string> = {}) =>
    Bun.spawn([process.execPath, join(import.meta.dir, "main.ts"), "kubelet", "--config=/var/lib/kubelet/config.yaml", "--pod-infra-container-image=10.0.0.1:5000/google_containers/pause:3.5", "--network-plugin=cni"], {
      env: { ...process.env, KUBE_STANDIN_HOSTNAME: "node1", KUBE_STANDIN_VERSION: "v1.22.2", ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
  const config = (driver: string) => {
    mkdirSync(join(root, "var/lib/kubelet"), { recursive: true });
    writeFileSync(join(root, "var/lib/kubelet/config.yaml"), `apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: ${driver}\n`);
  };

  test("a cgroup driver mismatch: the kubelet exits with the real one's message", async () => {
    config("systemd");
    const p = kubelet({ FAKE_DOCKER_DRIVER: "cgroupfs" });
    expect(await p.exited).toBe(1);
    expect(await new Response(p.stderr).text()).toContain('misconfiguration: kubelet cgroup driver: "systemd" is different from docker cgroup driver: "cgroupfs"');
    expect(readRecords(join(root, "var/log/kube-standin/records.jsonl")).at(-1)).toMatchObject({ tool: "kubelet", outcome: "error" });
  });

  test("docker with systemd: the kubelet records dockershim and the sandbox image pulled through docker", async () => {
    config("systemd");
    const p = kubelet();
    const file = join(root, "var/log/kube-standin/records.jsonl");
    let rec;
    for (let i = 0; i < 100 && !rec; i++) {
      await Bun.sleep(100);
      rec = readRecords(file).find((r) => r.command === "dockershim");
    }
    p.kill();
    await p.exited;
    expect(rec).toMatchObject({ tool: "kubelet", outcome: "ok", runtime: "dockershim", dockerVersion: "20.10.24", cgroupDriver: "systemd", imagesPulled: ["10.0.0.1:5000/google_containers/pause:3.5"] });
  });
});

describe("kubeadm's CRI socket when none is configured", () => {
  test("docker's socket first on 1.22, containerd's when only it is there, else the version's default", () => {
    const v122 = parseVersion("v1.22.2");
    expect(detectCriSocket(v122)).toBe("/var/run/dockershim.sock"); // docker.sock exists (beforeEach)
    mkdirSync(join(root, "run/containerd"), { recursive: true });
    writeFileSync(join(root, "run/containerd/containerd.sock"), "");
    expect(detectCriSocket(v122)).toBe("/var/run/dockershim.sock");
    rmSync(sock);
    expect(detectCriSocket(v122)).toBe("unix:///run/containerd/containerd.sock");
    rmSync(join(root, "run/containerd/containerd.sock"));
    expect(detectCriSocket(v122)).toBe("/var/run/dockershim.sock");
    expect(detectCriSocket(parseVersion("v1.28.1"))).toBe("unix:///run/containerd/containerd.sock");
  });
});
