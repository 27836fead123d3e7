// An image archive of the bundle opened for reading: its tar index plus helpers to read and hash members.
import type { TarMember } from "./tar-index.ts";

export interface Archive {
  file: string;
  members: Map<string, TarMember>;
}

export class ImageArchiveError extends Error {
  constructor(file: string, message: string, hint = "rebuild the bundle (bun run build.ts bundle) or replace the file") {
    super(`depot: image archive ${file}: ${message} — ${hint}`);
    this.name = "ImageArchiveError";
  }
}

export function memberBytes(archive: Archive, m: TarMember): Promise<Uint8Array> {
  return Bun.file(archive.file).slice(m.offset, m.offset + m.size).bytes();
}

/** "sha256:<hex>" of a member, streamed (layers can be hundreds of MB). */
export async function hashMember(archive: Archive, m: TarMember): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(archive.file).slice(m.offset, m.offset + m.size).stream()) hasher.update(chunk);
  return `sha256:${hasher.digest("hex")}`;
}

export function parseJson(archive: Archive, bytes: Uint8Array, what: string): any {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ImageArchiveError(archive.file, `${what} is not valid JSON (${(e as Error).message})`);
  }
}
