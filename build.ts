// Build the single executable.
//   bun run build.ts                          -> dist/k8s-ha-offline        (linux-x64)
//   bun run build.ts --target linux-arm64     -> dist/k8s-ha-offline-arm64
//   bun run build.ts bundle --profile P       -> dist/bundle-P/ assembled, then the binary with its lock embedded
// Templates (assets/) and manifests (rpms/, images/) are imported as text by the sources, so
// `bun build --compile` embeds them; the lock of an assembled bundle is passed in with --define.
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

const root = import.meta.dir;
const bun = process.execPath;
const TARGETS: Record<string, { bunTarget: string; suffix: string }> = {
  "linux-x64": { bunTarget: "bun-linux-x64", suffix: "" },
  "linux-arm64": { bunTarget: "bun-linux-arm64", suffix: "-arm64" },
};

function usage(msg: string): never {
  console.error(`build.ts: ${msg}
usage: bun run build.ts [--target linux-x64|linux-arm64]
       bun run build.ts bundle --profile <el7-k8s1.22|el9|debian12> [--target ...]`);
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

export async function compile(target: string, lockText?: string): Promise<string> {
  const t = TARGETS[target] ?? usage(`unknown target "${target}"`);
  mkdirSync(join(root, "dist"), { recursive: true });
  const outfile = join(root, "dist", `k8s-ha-offline${t.suffix}`);
  const define = lockText ? ["--define", `process.env.K8S_HA_EMBEDDED_LOCK=${JSON.stringify(lockText)}`] : [];
  // The depot's serving threads run src/depot/http/serve-worker.ts: a second entrypoint, so the
  // compiled binary carries it (without it the depot serves on one thread).
  const entries = [join(root, "src/cli.ts"), join(root, "src/depot/http/serve-worker.ts")];
  await run([bun, "build", "--compile", "--minify-syntax", "--bytecode", "--format=esm", "--splitting", `--target=${t.bunTarget}`, ...define, ...entries, "--outfile", outfile]);
  return outfile;
}

async function bundle(profile: string, target: string) {
  const outDir = resolve(root, "dist", `bundle-${profile}`);
  // The lab profile packs the Kubernetes stand-in where kubeadm/kubelet/kubectl would be.
  const standin = join(root, "test/kube-standin/build.sh");
  if (profile === "debian12" && existsSync(standin)) await run(["bash", standin]);
  const { assembleBundle } = await import("./src/bundle/assemble.ts");
  await assembleBundle({ profile, outDir, log: (m: string) => console.error(m) });
  const lockText = await Bun.file(join(outDir, "lock.json")).text();
  const out = await compile(target, lockText);
  console.error(`bundle: ${outDir}\nbinary: ${out} (lock of ${profile} embedded)`);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const target = flag(args, "--target") ?? "linux-x64";
  try {
    if (args[0] === "bundle") {
      const profile = flag(args, "--profile") ?? usage("bundle needs --profile");
      await bundle(profile, target);
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
