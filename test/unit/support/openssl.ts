// The openssl CLI as an independent judge of what src/pki produces (tests only; nothing at runtime uses it).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Run {
  code: number;
  out: string;
  err: string;
}

export function run(cmd: string[], stdin?: string | Uint8Array, cwd?: string): Run {
  const p = Bun.spawnSync(cmd, { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stdout: "pipe", stderr: "pipe", cwd });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

/** Run and demand success; the error carries openssl's complaint. */
export function must(cmd: string[], stdin?: string | Uint8Array, cwd?: string): string {
  const r = run(cmd, stdin, cwd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} exited ${r.code}: ${r.err}`);
  return r.out;
}

/** A temp dir holding the given files; `path(name)` for arguments, `remove()` when done. */
export function tempFiles(files: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "pki-test-"));
  const put = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  for (const [n, c] of Object.entries(files)) put(n, c);
  return { dir, put, path: (name: string) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `openssl x509 -text` of a PEM, for asserting extensions the way openssl reads them. */
export const x509Text = (pem: string) => must(["openssl", "x509", "-noout", "-text"], pem);
