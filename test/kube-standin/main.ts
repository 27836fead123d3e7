// One binary, four programs: kubeadm, kubelet, kubectl (chosen by the name it was started as, argv[0])
// and the apiserver (`kube-standin apiserver ...`, started by the stand-in kubelet).
// `kube-standin TOOL ...` selects a tool explicitly (tests, and runs from source).
import path from "node:path";
import { StandinError, errText } from "./lib/errors.ts";
import { writeRecord } from "./lib/records.ts";
import { kubeadm } from "./kubeadm/cli.ts";
import { kubectl } from "./kubectl.ts";
import { kubeletMain } from "./kubelet.ts";
import { apiserverMain } from "./apiserver/server.ts";

const TOOLS = ["kubeadm", "kubectl", "kubelet", "apiserver"] as const;
type Tool = (typeof TOOLS)[number];

function pick(): { tool: Tool; argv: string[] } {
  const byName = path.basename(process.argv0 ?? "");
  if ((TOOLS as readonly string[]).includes(byName) && byName !== "apiserver") return { tool: byName as Tool, argv: process.argv.slice(2) };
  const [first, ...rest] = process.argv.slice(2);
  if ((TOOLS as readonly string[]).includes(first ?? "")) return { tool: first as Tool, argv: rest };
  console.error(`kube-standin: run as kubeadm, kubelet or kubectl (by file name), or as "kube-standin ${TOOLS.join("|")} ..."`);
  process.exit(2);
}

async function main() {
  const { tool, argv } = pick();
  if (tool === "kubelet" || tool === "apiserver") {
    // Long-running daemons: their lifecycle is in their own logs, one record for the start.
    writeRecord(tool, argv, "ok", { command: "start" });
    try {
      await (tool === "kubelet" ? kubeletMain(argv) : apiserverMain(argv));
    } catch (e) {
      console.error(errText(e));
      writeRecord(tool, argv, "error", {}, errText(e));
      process.exit(1);
    }
    return;
  }
  // `started` next to the record's end time lets tests prove that two joins did not overlap.
  const started = new Date().toISOString();
  try {
    const details = await (tool === "kubeadm" ? kubeadm(argv) : kubectl(argv));
    writeRecord(tool, argv, "ok", { started, ...details });
    process.exit(0);
  } catch (e) {
    const msg = errText(e);
    writeRecord(tool, argv, "error", { started }, msg.split("\nTo see the stack trace")[0]);
    console.error(e instanceof StandinError || tool === "kubectl" ? msg : `error: ${msg}`);
    process.exit(e instanceof StandinError ? e.exitCode : 1);
  }
}

await main();
