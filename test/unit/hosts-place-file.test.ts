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
