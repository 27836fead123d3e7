// The script behind every upload and writeFile, run for real: it must refuse bytes whose sha256
// is not the one sent, and then leave the destination and the directory exactly as they were.
import { test, expect } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalHost } from "../../src/hosts/local.ts";
import { placeFileScript, tempPathFor } from "../../src/hosts/shell-host.ts";
import { bytesSha256 } from "../../src/hosts/sha256.ts";

test("bytes that arrive different from what was sent never replace the file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "place-file-"));
  try {
    const path = join(dir, "admin.conf");
    writeFileSync(path, "good\n");
    const host = new LocalHost({ name: "master1" });
    const script = placeFileScript({ path, tmp: tempPathFor(path), sha256: bytesSha256("sent\n"), mode: 0o600, owner: "root:root" });
    const r = await host.exec(script, { stdin: "corrupted\n", check: false });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`sha256 mismatch after transfer: expected ${bytesSha256("sent\n")}, got ${bytesSha256("corrupted\n")}\n`);
    expect(readFileSync(path, "utf8")).toBe("good\n");
    expect(readdirSync(dir)).toEqual(["admin.conf"]);
    // The same script with the right bytes goes through.
    expect((await host.exec(script, { stdin: "sent\n", check: false })).code).toBe(0);
    expect(readFileSync(path, "utf8")).toBe("sent\n");
    expect(readdirSync(dir)).toEqual(["admin.conf"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("temp files left by a write that was cut (power off, SIGKILL) are removed by the next write; a signal runs the clean-up", async () => {
  const dir = mkdtempSync(join(tmpdir(), "place-file-"));
  try {
    const path = join(dir, "k8s-ha-offline");
    writeFileSync(`${path}.tmp-0123456789ab`, "half an upload");
    writeFileSync(join(dir, "other.tmp-0123456789ab"), "not ours to remove");
    const host = new LocalHost({ name: "node1" });
    expect(await host.writeFile(path, "whole\n", { mode: 0o755 })).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["k8s-ha-offline", "other.tmp-0123456789ab"]);
    // The SSH session torn down: SIGHUP and the input closed while the script waits for it; the
    // shell exits through the HUP trap and the EXIT trap removes the temp file.
    const script = placeFileScript({ path, tmp: tempPathFor(path), sha256: bytesSha256("x"), mode: 0o600, owner: "root:root" });
    const p = Bun.spawn(["sh", "-c", script.text], { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 50 && readdirSync(dir).length < 3; i++) await Bun.sleep(20);
    expect(readdirSync(dir).length).toBe(3);
    p.kill("SIGHUP");
    p.stdin.end();
    expect(await p.exited).toBe(129);
    expect(readdirSync(dir).sort()).toEqual(["k8s-ha-offline", "other.tmp-0123456789ab"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
