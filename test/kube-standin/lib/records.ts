// Every invocation leaves one JSON line in /var/log/kube-standin/records.jsonl: the proof tests
// read to know what the installer really asked for. Secrets never reach the file.
import fs from "node:fs";
import path from "node:path";
import { hostName, rooted } from "./env.ts";

const SECRET_FLAGS = new Set(["--token", "--certificate-key", "--discovery-token", "--tls-bootstrap-token"]);

export function redactArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    if (eq > 0 && SECRET_FLAGS.has(a.slice(0, eq))) out.push(`${a.slice(0, eq)}=<redacted>`);
    else if (SECRET_FLAGS.has(a) && i + 1 < argv.length) out.push(a, "<redacted>"), i++;
    else out.push(a);
  }
  return out;
}

export interface InvocationRecord {
  ts: string;
  started?: string;
  node: string;
  tool: string;
  argv: string[];
  outcome: "ok" | "error";
  error?: string;
  [detail: string]: unknown;
}

export function recordsFile(): string {
  return rooted("/var/log/kube-standin/records.jsonl");
}

export function writeRecord(tool: string, argv: string[], outcome: "ok" | "error", details: object = {}, error?: string) {
  const rec: InvocationRecord = { ts: new Date().toISOString(), node: hostName(), tool, argv: redactArgv(argv), outcome, ...details };
  if (error !== undefined) rec.error = error;
  const file = recordsFile();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, JSON.stringify(rec) + "\n");
}

/** Records from the text of a records.jsonl (e.g. read from a lab node through a Host). */
export function parseRecords(text: string): InvocationRecord[] {
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as InvocationRecord);
}

export function readRecords(file = recordsFile()): InvocationRecord[] {
  return fs.existsSync(file) ? parseRecords(fs.readFileSync(file, "utf8")) : [];
}
