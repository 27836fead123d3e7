// A CA in the state directory (src/cluster/state-ca.ts) made by a run that dies after any of its writes:
// the next run finishes the same CA, never refuses it as half of one. Real files through LocalHost in a
// temp directory; the "death" is a host that refuses every write after the Nth, as a SIGKILL would.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalHost } from "../../src/hosts/local.ts";
import { readStateCa, writeStateCa } from "../../src/cluster/state-ca.ts";
import { caStatePaths, type StateCa } from "../../src/pki/ca-state.ts";
import { loadCa } from "../../src/pki/ca.ts";

const work = mkdtempSync(join(tmpdir(), "state-ca-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const defFor = (stateDir: string): StateCa => ({
  what: "the test CA",
  paths: caStatePaths(stateDir, "test-ca"),
  stateDir,
  consequence: "a test",
  commonName: "test-ca",
  validityDays: 30,
});

class Killed extends Error {}
/** Writes files until the budget is spent, then fails every write: a run killed at that instant. */
class DyingHost extends LocalHost {
  constructor(private writesLeft: number) {
    super({ name: "master1" });
  }
  override async writeFile(...args: Parameters<LocalHost["writeFile"]>) {
    if (this.writesLeft-- <= 0) throw new Killed("killed");
    return super.writeFile(...args);
  }
}

const read = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : undefined);

// Five writes make a new CA: the pending file, then certificate, key and their backups.
for (let writes = 0; writes <= 5; writes++)
  test(`killed after ${writes} of the 5 writes: the next run finishes ${writes ? "the same CA" : "a new CA"}, and nothing is pending after`, async () => {
    const dir = join(work, `k${writes}`);
    const def = defFor(dir);
    const first = await writeStateCa(new DyingHost(writes), def, new Date()).catch((e) => e);
    expect(first instanceof Killed).toBe(writes < 5);
    const begun = read(def.paths.pending);
    expect(begun !== undefined).toBe(writes >= 1 && writes < 5);

    const local = new LocalHost({ name: "master1" });
    const onDisk = await readStateCa(local, def.paths);
    expect(onDisk.unfinished).toBe(begun !== undefined);
    const done = await writeStateCa(local, def, new Date());
    expect(done.created).toBe(writes === 0);
    if (begun) expect(begun).toBe(done.pair.certPem + done.pair.keyPem);
    for (const p of [def.paths.cert, def.paths.backupCert]) expect(read(p)).toBe(done.pair.certPem);
    for (const p of [def.paths.key, def.paths.backupKey]) expect(read(p)).toBe(done.pair.keyPem);
    expect(existsSync(def.paths.pending)).toBe(false);
    // The pair signs: certificate and key belong together.
    await loadCa(done.pair, def.paths.cert);
    expect(await readStateCa(local, def.paths)).toEqual({ ca: done.pair, unfinished: false });
  });

test("half a CA with nothing pending (a file lost later) is still refused, naming the file and what to do", async () => {
  const def = defFor(join(work, "lost"));
  const local = new LocalHost({ name: "master1" });
  await writeStateCa(local, def, new Date());
  for (const p of [def.paths.key, def.paths.backupKey]) unlinkSync(p);
  await expect(writeStateCa(local, def, new Date())).rejects.toThrow(/the test CA is incomplete: .*test-ca\.crt exists but its partner does not/);
  expect(existsSync(def.paths.key)).toBe(false);
});

test("a kept CA is kept: a second run writes nothing new and makes no pending file", async () => {
  const def = defFor(join(work, "kept"));
  const local = new LocalHost({ name: "master1" });
  const a = await writeStateCa(local, def, new Date());
  const written: string[] = [];
  const counting = new (class extends LocalHost {
    override async writeFile(...args: Parameters<LocalHost["writeFile"]>) {
      const changed = await super.writeFile(...args);
      if (changed) written.push(args[0]);
      return changed;
    }
  })({ name: "master1" });
  const b = await writeStateCa(counting, def, new Date());
  expect(b).toEqual({ pair: a.pair, created: false });
  expect(written).toEqual([]);
  expect(existsSync(def.paths.pending)).toBe(false);
});

test("killed after the four files, before the pending file went: the check sees it, the next run removes it", async () => {
  const def = defFor(join(work, "late"));
  const local = new LocalHost({ name: "master1" });
  const a = await writeStateCa(local, def, new Date());
  await local.writeFile(def.paths.pending, a.pair.certPem + a.pair.keyPem, { mode: 0o600 });
  expect(await readStateCa(local, def.paths)).toEqual({ ca: a.pair, unfinished: true });
  expect(await writeStateCa(local, def, new Date())).toEqual({ pair: a.pair, created: false });
  expect(existsSync(def.paths.pending)).toBe(false);
});
