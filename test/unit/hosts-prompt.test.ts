// The password prompt on a real terminal (a pty from util-linux's `script`): what is typed is
// returned and never echoed.
import { test, expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

test("promptHidden reads a line from the terminal without echoing it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "prompt-"));
  try {
    const child = join(dir, "child.ts");
    writeFileSync(
      child,
      `import { promptHidden } from ${JSON.stringify(join(ROOT, "src/hosts/credentials.ts"))};\n` +
        `const pw = await promptHidden("SSH password: ");\n` +
        `console.log("reversed:" + [...pw].reverse().join(""));\n`,
    );
    const bun = join(ROOT, "node_modules/.bin/bun");
    const p = Bun.spawn(["script", "-qec", `${bun} ${child}`, "/dev/null"], { stdin: "pipe", stdout: "pipe" });
    let seen = "";
    const reader = p.stdout.getReader();
    const decoder = new TextDecoder();
    // Type only once the prompt is shown, i.e. once the terminal is in raw mode.
    while (!seen.includes("SSH password: ")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value);
    }
    p.stdin.write("typo\x7f\x7f\x7f\x7fhunter2\r");
    p.stdin.flush();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value);
    }
    await p.exited;
    expect(seen).toContain("reversed:2retnuh");
    expect(seen).not.toContain("hunter2");
    expect(seen).not.toContain("typo");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
