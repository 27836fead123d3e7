// What every end-to-end suite does: put the compiled binary, the lab bundle and the lab's
// cluster.yaml on master1 (as an operator would), and run the binary there.
import { existsSync, readFileSync, statSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readLab, labExec, run, LAB_SCRIPT, type ExecResult } from "../lab/lab-client.ts";

export const ROOT = join(import.meta.dir, "..", "..");
export const BINARY = join(ROOT, "dist", "k8s-ha-offline");
export const BUNDLE = join(ROOT, "dist", "bundle-debian12");

let deployedFor = "";

/** After `lab down` + `lab up` master1 is a fresh node: deploy again. */
export function forgetDeployment(): void {
  deployedFor = "";
}

/** Copy binary, bundle and config to /root on master1 once per build (compared by size + mtime). */
export async function deploy(): Promise<void> {
  const lab = readLab();
  for (const p of [BINARY, BUNDLE]) if (!existsSync(p)) throw new Error(`${p} is missing: run \`bun run build.ts bundle --profile debian12\` first`);
  const stamp = `${statSync(BINARY).mtimeMs}:${statSync(BINARY).size}`;
  if (deployedFor === stamp) return;
  const have = await labExec("master1", "cat /root/.k8s-ha-offline-deployed 2>/dev/null");
  if (have.stdout.trim() !== stamp) {
    await labExec("master1", "rm -rf /root/bundle-debian12 /root/k8s-ha-offline", { check: true });
    for (const [src, dst] of [[BINARY, "/root/k8s-ha-offline"], [BUNDLE, "/root/"], [clusterYaml(lab.cluster_yaml), "/root/cluster.yaml"]] as const) {
      const r = await run([LAB_SCRIPT, "cp-to", "master1", src, dst], 300_000);
      if (r.code !== 0) throw new Error(`copying ${src} to master1 failed: ${r.stderr}`);
    }
    await labExec("master1", `chmod 755 /root/k8s-ha-offline && echo '${stamp}' > /root/.k8s-ha-offline-deployed`, { check: true });
  }
  deployedFor = stamp;
}

/**
 * The lab's cluster.yaml with the four install nodes only: the lab runs with five nodes so that
 * the add-node suite has a fresh fifth one (node2) to add later, as an operator would.
 */
function clusterYaml(labYaml: string): string {
  const lines = readFileSync(labYaml, "utf8").split("\n");
  const kept = lines.filter((l) => !/^\s+- \{ name: /.test(l) || NODES.some((n) => l.includes(`name: ${n},`)));
  const out = join(mkdtempSync(join(tmpdir(), "e2e-cluster-")), "cluster.yaml");
  writeFileSync(out, kept.join("\n"));
  return out;
}

/** The host line the lab wrote for a node that is not in the deployed cluster.yaml (e.g. node2). */
export function labHostLine(name: string): string {
  const line = readFileSync(readLab().cluster_yaml, "utf8").split("\n").find((l) => l.includes(`name: ${name},`));
  if (!line) throw new Error(`the lab has no ${name}: bring it up with \`lab up --nodes 5\``);
  return line;
}

/** Run the binary on master1 from /root, as the README tells the operator to. */
export async function onMaster1(args: string, timeoutMs = 1_200_000): Promise<ExecResult & { seconds: number }> {
  await deploy();
  const started = performance.now();
  const r = await labExec("master1", `cd /root && ./k8s-ha-offline ${args}`, { timeoutMs });
  const seconds = (performance.now() - started) / 1000;
  if (process.env.E2E_VERBOSE || r.code !== 0) process.stderr.write(`--- k8s-ha-offline ${args} (exit ${r.code}, ${seconds.toFixed(1)} s)\n${r.stdout}${r.stderr}\n`);
  return { ...r, seconds };
}

export const NODES = ["master1", "master2", "master3", "node1"];
export const MASTERS = ["master1", "master2", "master3"];

/** sha256 of the embedded lock as the bundle on the host has it: what the nodes must end up with. */
export async function bundleLock(): Promise<{ files: { path: string; kind: string; sha256: string }[]; images: { ref: string; digest: string }[] }> {
  return JSON.parse(await Bun.file(join(BUNDLE, "lock.json")).text());
}

/**
 * A fresh lab (down, then up with five nodes) for a suite that installs a variant of the cluster from
 * scratch (test/e2e/90-docker-calico): the earlier suites leave an installed cluster behind.
 */
export async function freshLab(): Promise<void> {
  for (const args of [["down"], ["up", "--nodes", "5"]]) {
    const r = await run([LAB_SCRIPT, ...args], 900_000);
    if (r.code !== 0) throw new Error(`lab ${args.join(" ")} failed: ${r.stderr}`);
  }
  forgetDeployment();
  await deploy();
}

/** /root/<name> on master1: the deployed cluster.yaml with each `from` line replaced (each must be there). */
export async function variantConfig(name: string, edits: [string, string][]): Promise<string> {
  let text = (await labExec("master1", "cat /root/cluster.yaml", { check: true })).stdout;
  for (const [from, to] of edits) {
    if (!text.includes(from)) throw new Error(`variantConfig: "${from}" is not in the lab's cluster.yaml`);
    text = text.replace(from, to);
  }
  const b64 = Buffer.from(text).toString("base64");
  await labExec("master1", `echo '${b64}' | base64 -d > /root/${name}`, { check: true });
  return name;
}

/** The phase rows of an install's closing table, but preflight's (it always runs): each says "N nothing to do" on a re-run. */
export const rerunRows = (stderr: string): string[] =>
  stderr.slice(stderr.lastIndexOf("PHASE")).split("\n").slice(1).filter((l) => /^\S+\s+[\d.]+s\s+/.test(l) && !l.startsWith("total") && !l.startsWith("preflight"));
