// The installer's state on every master (issue 16 item 4): master1's state dir and the config in use
// are copied to every other control-plane node after each change, so losing master1's disk loses
// neither the etcd CA key nor the secrets, and any master can answer `status`. A manifest
// (stateDir/replica.json) carries a generation number: a master that was off during a change holds
// an older generation, and a changing command refuses to run from it (assertNewestState).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { Host } from "../hosts/host.ts";
import { reasonOn } from "../hosts/host.ts";
import { bytesSha256 } from "../hosts/sha256.ts";
import { InstallError } from "../util/errors.ts";
import { sh } from "../util/sh.ts";

export const MANIFEST = "replica.json";
/** The config in use is kept in the state dir under this name: the default config of other masters. */
export const CONFIG_COPY = "cluster.yaml";

/**
 * Not replicated: logs and backups are per machine and large, the run lock is per machine
 * (run-lock.ts), and the manifest is written separately, last.
 */
/** The operator's bundle as this master last verified it (src/depot/verify.ts): about this machine's files only. */
export const BUNDLE_STAMP = "bundle.verified";

const EXCLUDED = new Set(["logs", "backup", "backups", "run.lock", MANIFEST, BUNDLE_STAMP]);

export interface ReplicaManifest {
  generation: number;
  writtenBy: string;
  time: string;
  /** Path relative to the state dir → sha256 of its content. */
  files: Record<string, string>;
}

export interface StateFile {
  path: string;
  data: Uint8Array;
  sha256: string;
}

/**
 * The files to replicate from this machine: the state dir (minus EXCLUDED), the config in use, and
 * `extra` files kept elsewhere here (the SSH key of ssh.keyFile) under their state-dir path.
 */
export function collectState(stateDir: string, configFile: string, extra: readonly { path: string; file: string }[] = []): StateFile[] {
  const out = new Map<string, StateFile>();
  const add = (path: string, data: Uint8Array) => out.set(path, { path, data, sha256: bytesSha256(data) });
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      const rel = relative(stateDir, full);
      if (dir === stateDir && EXCLUDED.has(name)) continue;
      if (name.includes(".tmp")) continue; // a write in progress (temp + rename)
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else if (st.isFile()) add(rel, new Uint8Array(readFileSync(full)));
    }
  };
  walk(stateDir);
  // The config wins over a stale copy in the state dir (it may be that copy itself: same bytes).
  add(CONFIG_COPY, new Uint8Array(readFileSync(configFile)));
  for (const e of extra) add(e.path, new Uint8Array(readFileSync(e.file)));
  return [...out.values()].sort((a, b) => a.path.localeCompare(b.path));
}

function parseManifest(bytes: Uint8Array | null): ReplicaManifest | undefined {
  if (!bytes) return undefined;
  try {
    const m = JSON.parse(new TextDecoder().decode(bytes)) as ReplicaManifest;
    return Number.isInteger(m.generation) && m.files && typeof m.files === "object" ? m : undefined;
  } catch {
    return undefined; // unreadable: as if there were none (generation 0)
  }
}

export async function readManifest(host: Host, stateDir: string): Promise<ReplicaManifest | undefined> {
  return parseManifest(await host.readFile(`${stateDir}/${MANIFEST}`));
}

const sameFiles = (a: Record<string, string>, b: Record<string, string>) => {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
};

export interface ReplicateResult {
  generation: number;
  /** Masters written to, with the number of files each was sent. */
  updated: { node: string; files: number }[];
  /** Masters already up to date. */
  current: string[];
  /** Masters not reached, with why (warned, never an error). */
  skipped: { node: string; reason: string }[];
}

/**
 * Copy `files` to `stateDir` on every peer. The generation goes up by one when the files differ from
 * the source's last manifest; a peer gets only the files whose sha256 differs from its manifest, and
 * the manifest last, so a copy cut off half-way still claims its old generation. Files the peer's
 * manifest lists that are gone here are removed there: the same files everywhere.
 */
export async function replicateState(opts: {
  source: Host;
  peers: readonly { name: string; host: () => Promise<Host> }[];
  stateDir: string;
  files: readonly StateFile[];
  warn: (message: string) => void;
  now?: Date;
  /**
   * The manifest each peer was last seen holding in this session (filled in here). The install replicates
   * after every phase while it holds the cluster lock, so no other run changes a peer's copy meanwhile: a
   * peer known to hold this very manifest is not asked again (one SSH read per master and phase saved).
   */
  known?: Map<string, string>;
}): Promise<ReplicateResult> {
  const { source, stateDir, files } = opts;
  const hashes = Object.fromEntries(files.map((f) => [f.path, f.sha256]));
  const mine = await readManifest(source, stateDir);
  const manifest: ReplicaManifest =
    mine && sameFiles(mine.files, hashes)
      ? mine
      : { generation: (mine?.generation ?? 0) + 1, writtenBy: source.name, time: (opts.now ?? new Date()).toISOString(), files: hashes };
  const text = JSON.stringify(manifest, null, 2) + "\n";
  if (manifest !== mine) await source.writeFile(`${stateDir}/${MANIFEST}`, text, { mode: 0o600 });
  const result: ReplicateResult = { generation: manifest.generation, updated: [], current: [], skipped: [] };
  // Every peer at once (the install replicates after each phase: one master after the other doubled the
  // wait); the result lists them in the peers' order all the same.
  type Outcome = { current: true } | { updated: number } | { skipped: string };
  const one = async (peer: (typeof opts.peers)[number]): Promise<Outcome> => {
    try {
      if (opts.known?.get(peer.name) === text) return { current: true };
      const host = await peer.host();
      const theirs = await readManifest(host, stateDir);
      if (theirs && theirs.generation > manifest.generation)
        throw new InstallError(`it holds a newer state (generation ${theirs.generation}) than ${source.name} (generation ${manifest.generation}); not overwritten`);
      if (theirs?.generation === manifest.generation && sameFiles(theirs.files, hashes)) {
        // Remembered only when byte for byte the same (the time and writer too), as if written here.
        if (JSON.stringify(theirs, null, 2) + "\n" === text) opts.known?.set(peer.name, text);
        return { current: true };
      }
      const changed = files.filter((f) => theirs?.files[f.path] !== f.sha256);
      const gone = Object.keys(theirs?.files ?? {}).filter((p) => !(p in hashes) && !p.startsWith("/") && !p.split("/").includes(".."));
      const dirs = [...new Set(changed.map((f) => f.path.split("/").slice(0, -1)).filter((d) => d.length).map((d) => `${stateDir}/${d.join("/")}`))];
      // Directories 0700, owned by root, before any file lands in them (the state dir itself is there
      // already on a master this run has written to).
      const make = opts.known?.has(peer.name) ? dirs : [stateDir, ...dirs];
      if (make.length) await host.exec(sh`umask 077 && mkdir -p ${make} && chmod 700 ${make}`);
      // Side by side: their comparisons share one command (src/hosts/coalesce.ts); after every phase of an
      // install this ran one file after the other on every master (28 s of a cold install's 5 minutes).
      await Promise.all(changed.map((f) => host.writeFile(`${stateDir}/${f.path}`, f.data, { mode: 0o600 })));
      if (gone.length) await host.exec(sh`rm -f -- ${gone.map((p) => `${stateDir}/${p}`)}`);
      await host.writeFile(`${stateDir}/${MANIFEST}`, text, { mode: 0o600 });
      opts.known?.set(peer.name, text);
      return { updated: changed.length };
    } catch (err) {
      return { skipped: reasonOn(peer.name, err) };
    }
  };
  const outcomes = await Promise.all(opts.peers.map(one));
  opts.peers.forEach((peer, i) => {
    const o = outcomes[i]!;
    if ("current" in o) result.current.push(peer.name);
    else if ("updated" in o) result.updated.push({ node: peer.name, files: o.updated });
    else {
      result.skipped.push({ node: peer.name, reason: o.skipped });
      opts.warn(`warning: the installer state was not copied to ${peer.name}: ${o.skipped}`);
    }
  });
  return result;
}

/** How the installer reaches a master over SSH: what the copy command in a refusal uses. */
export interface SshRoute {
  address: string;
  port: number;
  user: string;
  keyFile?: string;
}

/**
 * The command that copies a master's state dir here, through the same SSH route (key, port, user) the
 * installer uses — a wiped master has neither names for its peers nor a default key that they accept — as
 * one tar stream (through sudo for a non-root login: the state dir is root's, 0700).
 */
export function stateCopyCommand(stateDir: string, from: SshRoute): string {
  const remote = sh`${[...(from.user === "root" ? [] : ["sudo", "-n"]), "tar", "-C", stateDir, "-cf", "-", "."]}`;
  const ssh = ["ssh", ...(from.keyFile ? ["-i", from.keyFile] : []), "-p", from.port, `${from.user}@${from.address}`, remote.text];
  return sh`mkdir -p -m 700 ${stateDir} && ${ssh} | tar -C ${stateDir} -xpf -`.text;
}

/**
 * Before a changing command: refuse when another reachable master holds a newer generation than
 * this one — this copy is stale (its master was off during a change) and would undo that change.
 * Unreachable masters are skipped: they are warned about by the caller's connection attempts.
 */
export async function assertNewestState(opts: {
  self: Host;
  peers: readonly { name: string; route?: SshRoute; host: () => Promise<Host> }[];
  stateDir: string;
  warn: (message: string) => void;
}): Promise<number> {
  const mine = (await readManifest(opts.self, opts.stateDir))?.generation ?? 0;
  let newest: { name: string; route?: SshRoute; generation: number } | undefined;
  for (const peer of opts.peers) {
    let generation: number;
    try {
      generation = (await readManifest(await peer.host(), opts.stateDir))?.generation ?? 0;
    } catch (err) {
      opts.warn(`warning: cannot read the installer state generation on ${peer.name}: ${reasonOn(peer.name, err)}`);
      continue;
    }
    if (generation > mine && (!newest || generation > newest.generation)) newest = { name: peer.name, route: peer.route, generation };
  }
  if (newest)
    throw new InstallError(
      `the state on ${opts.self.name} (generation ${mine}) is older than ${newest.name}'s (generation ${newest.generation}): ` +
        `run on ${newest.name}, or copy its state here first (as root on ${opts.self.name}: ` +
        (newest.route ? stateCopyCommand(opts.stateDir, newest.route) : `copy ${opts.stateDir} from ${newest.name}`) +
        ` — it holds secrets: keep it root's, 0600)`,
    );
  return mine;
}
