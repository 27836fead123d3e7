// A private containerd for tests: its own root, state and socket under a temp dir, CRI disabled (pulling
// and listing with ctr need neither CNI nor cgroups), stopped by the caller.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";

export interface PrivateContainerd {
  socket: string;
  /** ctr against it in the k8s.io namespace (the kubelet's), output and errors together. */
  ctr(...args: string[]): Promise<{ code: number; out: string }>;
  stop(): Promise<void>;
}

/** Start containerd with root/state in `dir`; `socket` defaults to <dir>/containerd.sock; `hostsDir` shows as the CRI registry config_path. */
export async function startContainerd(dir: string, opts: { socket?: string; hostsDir?: string } = {}): Promise<PrivateContainerd> {
  const socket = opts.socket ?? join(dir, "containerd.sock");
  mkdirSync(dirname(socket), { recursive: true });
  writeFileSync(
    join(dir, "config.toml"),
    [
      "version = 2",
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      `disabled_plugins = ["io.containerd.grpc.v1.cri"]`,
      `[grpc]\n  address = "${socket}"`,
      `[ttrpc]\n  address = "${socket}.ttrpc"`,
      `[debug]\n  address = "${dir}/debug.sock"`,
      ...(opts.hostsDir ? [`[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${opts.hostsDir}"`] : []),
      "",
    ].join("\n"),
  );
  const proc: Subprocess = Bun.spawn(["containerd", "--config", join(dir, "config.toml")], { stdout: "ignore", stderr: Bun.file(join(dir, "containerd.log")) });
  const ctr = async (...args: string[]) => {
    const p = Bun.spawn(["ctr", "-a", socket, "-n", "k8s.io", ...args], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, out: out + err };
  };
  // containerd is ready once its socket answers.
  for (let i = 0; i < 100 && (await ctr("version")).code !== 0; i++) await Bun.sleep(100);
  if ((await ctr("version")).code !== 0) throw new Error(`private containerd did not start: ${await Bun.file(join(dir, "containerd.log")).text()}`);
  return {
    socket,
    ctr,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
