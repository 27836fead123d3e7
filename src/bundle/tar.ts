// Writing tar archives (optionally gzipped) with fixed ownership and times, so that the same inputs
// give the same bytes — image digests and tarball sums in the lock stay stable between assemblies.
import { createReadStream, createWriteStream, statSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import * as tar from "tar-stream";

export interface TarMember {
  /** Path inside the archive; a trailing "/" makes a directory. */
  name: string;
  /** Content in memory ... */
  data?: Uint8Array | string;
  /** ... or a file to stream from. */
  path?: string;
  /** Default 0o644 (0o755 for directories). */
  mode?: number;
  /** A hard link to this earlier member (same content stored once). */
  link?: string;
}

/** 2021-09-15, when Kubernetes 1.22.2 was released: a fixed, plausible mtime for every member. */
export const FIXED_MTIME = new Date("2021-09-15T00:00:00Z");

function addMember(pack: tar.Pack, m: TarMember): Promise<void> {
  const common = { name: m.name, mtime: FIXED_MTIME, uid: 0, gid: 0, uname: "root", gname: "root" };
  if (m.name.endsWith("/")) {
    return new Promise((res, rej) => pack.entry({ ...common, type: "directory", mode: m.mode ?? 0o755 }, (e) => (e ? rej(e) : res())));
  }
  if (m.link !== undefined) {
    return new Promise((res, rej) => pack.entry({ ...common, type: "link", linkname: m.link, mode: m.mode ?? 0o644 }, (e) => (e ? rej(e) : res())));
  }
  if (m.path !== undefined) {
    const size = statSync(m.path).size;
    return new Promise((res, rej) => {
      const entry = pack.entry({ ...common, size, mode: m.mode ?? 0o644 }, (e) => (e ? rej(e) : res()));
      createReadStream(m.path!).on("error", rej).pipe(entry);
    });
  }
  const data = typeof m.data === "string" ? Buffer.from(m.data) : Buffer.from(m.data ?? new Uint8Array());
  return new Promise((res, rej) => pack.entry({ ...common, size: data.length, mode: m.mode ?? 0o644 }, data, (e) => (e ? rej(e) : res())));
}

/** Write members in order to `out` (gzip level 9 when asked). */
export async function writeTar(out: string, members: TarMember[], opts: { gzip?: boolean } = {}): Promise<void> {
  const pack = tar.pack();
  const done = opts.gzip ? pipeline(pack, createGzip({ level: 9 }), createWriteStream(out)) : pipeline(pack, createWriteStream(out));
  try {
    for (const m of members) await addMember(pack, m);
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
  }
  await done;
}

/** The same, into memory (small image layers). */
export async function tarBytes(members: TarMember[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => void chunks.push(c as Buffer));
  const ended = new Promise<void>((res, rej) => {
    pack.on("end", res);
    pack.on("error", rej);
  });
  for (const m of members) await addMember(pack, m);
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** Insert each file's parent directories before it, once, as upstream release tarballs list them. */
export function withParentDirs(files: TarMember[]): TarMember[] {
  const out: TarMember[] = [];
  const dirs = new Set<string>(["./"]);
  for (const f of files) {
    const parts = f.name.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const d = `${parts.slice(0, i).join("/")}/`;
      if (!dirs.has(d)) {
        dirs.add(d);
        out.push({ name: d });
      }
    }
    out.push(f);
  }
  return out;
}
