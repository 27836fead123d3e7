// The test entry point behind `npm test` (all) and `npm run test:unit` (no lab).
// Runs each suite with `bun test`, then prints one closing line "N passed, N failed".
//   unit : test/unit, test/kube-standin             (no root lab needed; local daemons on loopback)
//   drills: build binary and lab bundle + the lab drills (interrupt, security); prints the drill table
//   all  : unit + build binary and lab bundle + lab suites + end-to-end install on the lab + drills
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { resetDrillReport, readDrillRows, drillTable } from "./drills/report.ts";
import { UPGRADE_BUNDLES } from "./drills/upgrade-bundles.ts";

const root = join(import.meta.dir, "..");
const bun = process.execPath;
const mode = process.argv[2] ?? "all";
if (!["unit", "all", "drills"].includes(mode)) {
  console.error(`usage: bun test/run-tests.ts unit|drills|all`);
  process.exit(2);
}

let passed = 0;
let failed = 0;
const failures: string[] = [];

const hasTests = (dir: string) => existsSync(join(root, dir)) && readdirSync(join(root, dir)).some((f) => f.endsWith(".test.ts"));

/**
 * Run `bun test` on a folder (or one file), echo its output, and add up its pass/fail counts. quiet: the
 * output is kept there, for printing once the suite it runs beside has ended.
 */
async function suite(name: string, dir: string | string[], extraEnv: Record<string, string> = {}, timeoutMs = 600_000, quiet?: string[]) {
  const paths = Array.isArray(dir) ? dir : [dir];
  const shown = paths.length > 3 ? `${paths.length} files of ${dirname(paths[0]!)}/` : paths.join(" ");
  if (!Array.isArray(dir) && !dir.endsWith(".test.ts") && !hasTests(dir)) return console.log(`\n### ${name}: no tests in ${dir}`);
  if (!quiet) console.log(`\n### ${name} (${shown})`);
  const p = Bun.spawn([bun, "test", "--timeout", String(timeoutMs), ...paths.map((d) => (d.endsWith(".test.ts") ? `./${d}` : `./${d}/`))], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...extraEnv },
  });
  const collect = async (s: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) => {
    let text = "";
    for await (const chunk of s) {
      const t = new TextDecoder().decode(chunk);
      text += t;
      if (!quiet) sink.write(t);
    }
    return text;
  };
  const [out, err] = await Promise.all([collect(p.stdout, process.stdout), collect(p.stderr, process.stderr)]);
  if (quiet) quiet.push(`\n### ${name} (${shown}, run beside another suite)\n${out}${err}`);
  const code = await p.exited;
  const all = out + err;
  const pass = Number(/^\s*(\d+) pass$/m.exec(all)?.[1] ?? 0);
  const fail = Number(/^\s*(\d+) fail$/m.exec(all)?.[1] ?? 0);
  passed += pass;
  failed += fail;
  if (fail || (code !== 0 && !fail)) {
    failures.push(`${name}: ${fail} failed${code !== 0 && !fail ? ` (bun test exited ${code})` : ""}`);
    if (code !== 0 && !fail) failed += 1;
  }
}

async function step(what: string, cmd: string[], quiet?: string[]): Promise<boolean> {
  const head = `\n### ${what}: ${cmd.join(" ")}`;
  // quiet: the output is kept (in order, with its heading) for printing later, while a suite runs beside it.
  if (quiet) quiet.push(head);
  else console.log(head);
  const p = Bun.spawn(cmd, { cwd: root, stdout: quiet ? "pipe" : "inherit", stderr: quiet ? "pipe" : "inherit" });
  if (quiet) quiet.push(...(await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()])));
  if ((await p.exited) === 0) return true;
  failures.push(`${what} failed`);
  failed += 1;
  return false;
}

/**
 * The lab bundle and binary, then the upgrade drill's bundles. In `all` mode they are built while the unit
 * tests run (those need neither the lab nor dist/; most of their time is spent waiting on local daemons,
 * the builds' on downloads and compression): about 3 minutes less on two cores.
 */
async function buildBundles(quiet?: string[]): Promise<boolean> {
  if (!(await step("build the lab bundle and the binary", [bun, "run", "build.ts", "bundle", "--profile", "debian12"], quiet))) return false;
  // The upgrade drill (50-upgrade) carries the next minor's bundle and binary, and a 1.24 pair it must
  // refuse (a skipped minor): the stand-in and the binary compiled, the images built, the .debs from apt's
  // cache, the runtime, etcd and CNI payloads the lab bundle's own (dist/.pack-cache).
  for (const [v, out] of UPGRADE_BUNDLES) await step(`build the ${v} lab bundle for the upgrade drill`, [bun, "run", "build.ts", "bundle", "--profile", "debian12", "--kubernetes", v, "--out", out], quiet);
  return true;
}

/**
 * The unit files that run real etcd members on loopback spend most of their minutes waiting on etcd's
 * elections and dial timeouts, not on the CPU: they run in a second bun process beside the rest (each
 * cluster on a loopback network of its own, so nothing collides), their output printed after.
 */
const ETCD_UNIT_FILES = ["etcd-members.test.ts", "replace-node.test.ts"];
async function unitSuites(): Promise<void> {
  const all = readdirSync(join(root, "test/unit")).filter((f) => f.endsWith(".test.ts")).sort();
  const etcd = all.filter((f) => ETCD_UNIT_FILES.includes(f)).map((f) => `test/unit/${f}`);
  const rest = all.filter((f) => !ETCD_UNIT_FILES.includes(f)).map((f) => `test/unit/${f}`);
  const etcdOutput: string[] = [];
  const beside = etcd.length ? suite("unit: real etcd members on loopback", etcd, {}, 600_000, etcdOutput) : undefined;
  await suite("unit", rest);
  await beside;
  if (etcdOutput.length) console.log(etcdOutput.join("\n"));
}

resetDrillReport();
const lab = join(root, "test/lab/lab");
const buildOutput: string[] = [];
const built = mode === "all" ? buildBundles(buildOutput) : undefined;
// In `all` mode the lab suite (its own 4-node lab, no bundle needed; on a fresh machine its first minutes
// build the lab's base tree from Debian's packages) runs beside the unit tests and the builds: all three
// spend much of their time waiting on downloads, daemons and boots. One left up by an earlier run (of another
// size) goes first. Its output, like the builds', is printed once the unit suite has ended.
const labOutput: string[] = [];
const labSuite =
  mode === "all"
    ? (async () => {
        if (await step("lab down", [lab, "down"], labOutput)) await suite("lab", "test/lab", {}, 600_000, labOutput);
      })()
    : undefined;
// The stand-in suite (local daemons only) builds stand-ins of its own: the bundle builds (which build theirs)
// finish first; then it too runs beside whatever is left of the unit and lab suites.
const standinOutput: string[] = [];
const standin = built?.then(() => suite("kube stand-in", "test/kube-standin", {}, 600_000, standinOutput));
if (mode !== "drills") await unitSuites();
if (mode === "unit") await suite("kube stand-in", "test/kube-standin");
const printed = (out: string[]) => out.length && console.log(out.splice(0).join("\n"));
let bundleOk = true;
if (built) {
  bundleOk = await built;
  printed(buildOutput);
  if (!bundleOk) console.log("\n(the lab bundle did not build: no end-to-end test or drill runs)");
}
await labSuite;
printed(labOutput);
await standin;
printed(standinOutput);

if (mode !== "unit") {
  const inOrder = (dir: string) => readdirSync(join(root, dir)).filter((f) => f.endsWith(".test.ts")).sort();
  try {
    if (built ? bundleOk : await buildBundles()) {
      if (mode === "all") {
        // The end-to-end files build on each other (fresh lab -> node preparation -> load balancer -> Kubernetes):
        // one bun process each, in name order.
        // A fresh lab: the end-to-end suites start from untouched nodes, as an operator's would be.
        if ((await step("lab down", [lab, "down"])) && (await step("lab up", [lab, "up", "--nodes", "5"])))
          for (const f of inOrder("test/e2e")) await suite(`end to end: ${f}`, `test/e2e/${f}`, {}, 1_800_000);
      }
      // The drills bring up their own fresh labs (an uninterrupted reference, then the interrupted one)
      // and the security sweep runs on the cluster they leave.
      for (const f of inOrder("test/drills")) await suite(`drill: ${f}`, `test/drills/${f}`, {}, 3_600_000);
    }
  } finally {
    await step("lab down", [lab, "down"]);
  }
}
const drills = readDrillRows();
if (drills.length) console.log(`\n### drills\n${drillTable(drills)}`);

if (failures.length) console.log(`\nfailures:\n  ${failures.join("\n  ")}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
