// The stand-in kubelet: runs the static pods of /etc/kubernetes/manifests (only kube-apiserver is a
// real process; the others are reported as running), registers its node with the client certificate
// of kubelet.conf and posts a heartbeat, so Ready/NotReady means "this node's kubelet is alive".
import fs from "node:fs";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import YAML from "yaml";
import { hostName, rooted, selfCommand, standinVersion } from "./lib/env.ts";
import { fail } from "./lib/errors.ts";
import { parseFlags, str } from "./lib/flags.ts";
import { loadKubeconfig } from "./lib/kubeconfig.ts";
import { call } from "./lib/api.ts";
import { pidFile, writePid } from "./lib/proc.ts";
import { defaultAddress } from "./config/values.ts";
import { checkDocker, containerRuntime, ensureImages, type DockerFacts } from "./lib/dockershim.ts";
import { writeRecord } from "./lib/records.ts";

const FLAGS = Object.fromEntries(
  ["config", "kubeconfig", "bootstrap-kubeconfig", "container-runtime", "container-runtime-endpoint", "pod-infra-container-image",
   "network-plugin", "node-ip", "hostname-override", "cgroup-driver", "v", "node-labels"].map((f) => [f, "string" as const]),
);

interface StaticPod { name: string; image: string; command: string[]; text: string }

function readStaticPods(dir: string): StaticPod[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().flatMap((f) => {
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    try {
      const pod = YAML.parse(text);
      const c = pod?.spec?.containers?.[0];
      return [{ name: pod.metadata.name, image: c?.image ?? "", command: c?.command ?? [], text }];
    } catch (e) {
      console.error(`E kubelet: could not parse static pod ${f}: ${(e as Error).message}`);
      return [];
    }
  });
}

export async function kubeletMain(argv: string[]) {
  // The real kubelet has far more flags than the stand-in uses; kubeletExtraArgs may carry any of them.
  const p = parseFlags(argv, { ...FLAGS, ...Object.fromEntries(argv.filter((a) => a.startsWith("--")).map((a) => [a.slice(2).split("=")[0]!, "string" as const])) });
  const configPath = str(p, "config") ?? "/var/lib/kubelet/config.yaml";
  if (!fs.existsSync(rooted(configPath)))
    fail(`failed to load kubelet config file, path: ${configPath}, error: open ${configPath}: no such file or directory`);
  const config = YAML.parse(fs.readFileSync(rooted(configPath), "utf8")) ?? {};
  const manifests = rooted(config.staticPodPath ?? "/etc/kubernetes/manifests");
  const kubeconfig = str(p, "kubeconfig") ?? "/etc/kubernetes/kubelet.conf";
  const nodeName = (str(p, "hostname-override") ?? hostName()).toLowerCase();
  // With dockershim the real kubelet checks docker before anything else and exits when it must (systemd
  // restarts it): docker must answer at its socket with the kubelet's cgroup driver (its default is
  // cgroupfs; kubeadm writes systemd), and every image of the static pods and the sandbox comes through
  // the docker daemon. The record says "dockershim" with what it found.
  let dockershim: DockerFacts | null = null;
  if (containerRuntime(str(p, "container-runtime"), standinVersion()) === "docker") {
    dockershim = checkDocker(str(p, "container-runtime-endpoint"), config.cgroupDriver ?? "cgroupfs");
    const wanted = [...readStaticPods(manifests).map((x) => x.image).filter(Boolean), ...(str(p, "pod-infra-container-image") ? [str(p, "pod-infra-container-image")!] : [])];
    const images = ensureImages(wanted);
    writeRecord("kubelet", argv, "ok", { command: "dockershim", ...dockershim, imagesPresent: images.present, imagesPulled: images.pulled });
  }
  writePid("kubelet");
  console.log(`kubelet (stand-in ${standinVersion()}) for node ${nodeName}: static pods from ${manifests}${dockershim ? `, docker ${dockershim.dockerVersion} (dockershim, cgroup driver ${dockershim.cgroupDriver})` : ""}`);

  let apiserver: { child: ChildProcess; text: string } | null = null;
  let lastStart = 0;
  let registered = false;
  let nodeIp = str(p, "node-ip");

  // The apiserver being replaced: the next one starts once it has exited (and released its port).
  let leaving: ChildProcess | null = null;
  const stopApiserver = () => {
    if (!apiserver) return;
    apiserver.child.kill("SIGTERM");
    leaving = apiserver.child;
    apiserver = null;
    fs.rmSync(pidFile("kube-apiserver"), { force: true });
  };

  function syncPods(pods: StaticPod[]) {
    const api = pods.find((x) => x.name === "kube-apiserver");
    if (api && !nodeIp) nodeIp = api.command.find((a) => a.startsWith("--advertise-address="))?.split("=")[1];
    if (apiserver && (!api || api.text !== apiserver.text || apiserver.child.exitCode !== null)) {
      if (api && api.text !== apiserver.text) lastStart = 0; // a changed manifest is a new pod: no crash back-off
      stopApiserver();
    }
    if (leaving && leaving.exitCode === null && leaving.signalCode === null) return;
    leaving = null;
    // A crashing apiserver is restarted, but not more than every 5 s (kubelet's back-off, simplified).
    if (api && !apiserver && Date.now() - lastStart > 5000) {
      lastStart = Date.now();
      const [cmd, ...args] = selfCommand();
      const child = spawn(cmd!, [...args, "apiserver", ...api.command.slice(1)], {
        argv0: "kube-standin",
        stdio: ["ignore", "inherit", "inherit"],
        // The apiserver reports its manifest's image tag as its version: an upgrade's new manifest is a new version.
        env: { ...process.env, KUBE_STANDIN_MANIFESTS: manifests, KUBE_STANDIN_APISERVER_VERSION: /:(v\d+\.\d+\.\d+)$/.exec(api.image)?.[1] ?? "" },
      });
      apiserver = { child, text: api.text };
      writePid("kube-apiserver", child.pid);
      console.log(`kubelet: started kube-apiserver-${nodeName} (pid ${child.pid})`);
    }
  }

  async function heartbeat(pods: StaticPod[]) {
    if (!fs.existsSync(rooted(kubeconfig))) return;
    const client = loadKubeconfig(kubeconfig);
    const node = {
      metadata: { labels: { "kubernetes.io/hostname": nodeName, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64" } },
      status: {
        addresses: [{ type: "InternalIP", address: nodeIp ?? defaultAddress() }, { type: "Hostname", address: nodeName }],
        nodeInfo: { kubeletVersion: standinVersion(), containerRuntimeVersion: dockershim ? `docker://${dockershim.dockerVersion}` : "standin://1" },
        standin: { lastHeartbeat: new Date().toISOString(), staticPods: pods.map(({ name, image }) => ({ name, image })) },
      },
    };
    // A real kubelet registers once at start and does not re-create a node deleted under it.
    const headers: Record<string, string> = registered ? {} : { "x-standin-register": "1" };
    try {
      await call(client, "PATCH", `/api/v1/nodes/${nodeName}`, node, { headers, timeoutMs: 5000 });
      if (!registered) console.log(`kubelet: node ${nodeName} registered`);
      registered = true;
    } catch (e) {
      console.error(`E kubelet: node status update for ${nodeName} failed: ${(e as Error).message}`);
    }
  }

  let stopping = false;
  const stop = () => {
    stopping = true;
    stopApiserver();
    fs.rmSync(pidFile("kubelet"), { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  let lastBeat = 0;
  while (!stopping) {
    const pods = readStaticPods(manifests);
    syncPods(pods);
    if (Date.now() - lastBeat > 10_000 || !registered) {
      await heartbeat(pods);
      lastBeat = Date.now();
    }
    await Bun.sleep(1000);
  }
}
