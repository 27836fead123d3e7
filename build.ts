// Build the single executable.
//   bun run build.ts                          -> dist/k8s-ha-offline        (linux-x64)
//   bun run build.ts --target linux-arm64     -> dist/k8s-ha-offline-arm64
//   bun run build.ts bundle --profile P       -> dist/bundle-P/ assembled, then the binary with its lock embedded
//   bun run build.ts bundle --profile debian12 --kubernetes 1.23.17 [--out DIR]
//                                             -> a lab bundle for another Kubernetes version (default
//                                                dist/bundle-debian12-1.23.17/) and its binary beside it
//                                                (DIR/../k8s-ha-offline-<DIR's name>): what an upgrade carries
// Templates (assets/) and manifests (rpms/, images/) are imported as text by the sources, so
// `bun build --compile` embeds them; the lock of an assembled bundle is passed in with --define.
import { existsSync, mkdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

const root = import.meta.dir;
const bun = process.execPath;
const TARGETS: Record<string, { bunTarget: string; suffix: string }> = {
  "linux-x64": { bunTarget: "bun-linux-x64", suffix: "" },
  "linux-arm64": { bunTarget: "bun-linux-arm64", suffix: "-arm64" },
};

function usage(msg: string): never {
  console.error(`build.ts: ${msg}
usage: bun run build.ts [--target linux-x64|linux-arm64]
       bun run build.ts bundle --profile <el7-k8s1.22|el9|debian12> [--target ...]
       bun run build.ts bundle --profile debian12 --kubernetes 1.23.17 [--out DIR] [--target ...]`);
  process.exit(2);
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (!v || v.startsWith("--")) usage(`${name} needs a value`);
  return v;
}

async function run(cmd: string[], cwd = root) {
  const p = Bun.spawn(cmd, { cwd, stdout: "inherit", stderr: "inherit" });
  if ((await p.exited) !== 0) throw new Error(`failed: ${cmd.join(" ")}`);
}

export async function compile(target: string, lockText?: string, outPath?: string): Promise<string> {
  const t = TARGETS[target] ?? usage(`unknown target "${target}"`);
  mkdirSync(join(root, "dist"), { recursive: true });
  const outfile = outPath ? `${outPath}${t.suffix}` : join(root, "dist", `k8s-ha-offline${t.suffix}`);
  const define = lockText ? ["--define", `process.env.K8S_HA_EMBEDDED_LOCK=${JSON.stringify(lockText)}`] : [];
  // The depot's serving threads run src/depot/http/serve-worker.ts: a second entrypoint, so the
  // compiled binary carries it (without it the depot serves on one thread).
  const entries = [join(root, "src/cli.ts"), join(root, "src/depot/http/serve-worker.ts")];
  await run([bun, "build", "--compile", "--minify-syntax", "--bytecode", "--format=esm", "--splitting", `--target=${t.bunTarget}`, ...define, ...entries, "--outfile", outfile]);
  return outfile;
}

/**
 * The lab bundle for another Kubernetes version: the stand-in built for it (beside the default one, which
 * stays untouched) and kubeadm's image tags of that minor (the stand-in's table of real kubeadm's
 * constants) in place of the manifests' 1.22 ones.
 */
async function otherKubernetes(profile: string, version: string) {
  if (profile !== "debian12") usage(`--kubernetes builds the lab profile (debian12) only: ${profile}'s images are pulled by their pinned digests`);
  const { parseVersion, componentTags } = await import("./test/kube-standin/lib/versions.ts");
  const v = parseVersion(version, "--kubernetes");
  const tags = componentTags(v);
  const standinBinary = join(root, "test/kube-standin/dist", `kube-standin-${v.text}`);
  const p = Bun.spawn(["bash", join(root, "test/kube-standin/build.sh"), standinBinary], { env: { ...process.env, KUBE_STANDIN_VERSION: v.text }, stdout: "inherit", stderr: "inherit" });
  if ((await p.exited) !== 0) throw new Error(`failed: building the stand-in ${v.text}`);
  const retag = (ref: string) => {
    const at = ref.lastIndexOf(":");
    const [repo, tag] = [ref.slice(0, at), ref.slice(at + 1)];
    const name = repo.split("/").pop()!;
    if (/^kube-(apiserver|controller-manager|scheduler|proxy)$/.test(name)) return `${repo}:${v.text}`;
    if (name === "pause") return `${repo}:${tags.pause}`;
    if (name === "coredns") return `${repo}:${tags.coredns}`;
    return `${repo}:${tag}`; // the CNI's images are the bundle's own, not kubeadm's
  };
  return { version: v.text, retag, standinBinary };
}

async function bundle(profile: string, target: string, kubernetes?: string, out?: string) {
  const k = kubernetes ? await otherKubernetes(profile, kubernetes) : undefined;
  const outDir = out ? resolve(out) : resolve(root, "dist", k ? `bundle-${profile}-${k.version.replace(/^v/, "")}` : `bundle-${profile}`);
  // The lab profile packs the Kubernetes stand-in where kubeadm/kubelet/kubectl would be.
  const standin = join(root, "test/kube-standin/build.sh");
  if (!k && profile === "debian12" && existsSync(standin)) await run(["bash", standin]);
  // Before assembly and the compile that embeds the manifests: pins Debian has since replaced are moved on.
  await (await import("./src/bundle/repin.ts")).repinStaleDebs(profile, root, (m) => console.error(m));
  const { assembleBundle } = await import("./src/bundle/assemble.ts");
  await assembleBundle({ profile, outDir, log: (m: string) => console.error(m), kubernetes: k });
  const lockText = await Bun.file(join(outDir, "lock.json")).text();
  // The default build keeps dist/k8s-ha-offline; another bundle's binary goes beside that bundle.
  const binaryPath = k || out ? join(dirname(outDir), `k8s-ha-offline-${basename(outDir).replace(/^bundle-/, "")}`) : undefined;
  const out_ = await compile(target, lockText, binaryPath);
  console.error(`bundle: ${outDir}\nbinary: ${out_} (lock of ${profile}${k ? ` with Kubernetes ${k.version}` : ""} embedded)`);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const target = flag(args, "--target") ?? "linux-x64";
  try {
    if (args[0] === "bundle") {
      const profile = flag(args, "--profile") ?? usage("bundle needs --profile");
      await bundle(profile, target, flag(args, "--kubernetes"), flag(args, "--out"));
    } else if (args.length && !args[0]!.startsWith("--")) {
      usage(`unknown command "${args[0]}"`);
    } else {
      console.error(`binary: ${await compile(target)}`);
    }
  } catch (e) {
    console.error(`build.ts: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  }
}
