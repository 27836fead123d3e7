// Streaming digests for bundle assembly and verify-bundle: bundle payloads run to hundreds of MiB,
// so never read a file whole.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export interface FileDigest {
  size: number;
  sha256: string;
}

/** sha256 (hex) and byte count of a file, read in 1 MiB chunks. */
export async function sha256File(path: string): Promise<FileDigest> {
  const { size, sha256 } = await digestFile(path, ["sha256"]);
  return { size, sha256: sha256! };
}

/** Several digests (hex) of a file in one streamed read, e.g. md5 + sha256 for apt's Packages. */
export async function digestFile<A extends string>(path: string, algorithms: A[]): Promise<{ size: number } & Partial<Record<A, string>>> {
  const hashes = algorithms.map((a) => createHash(a));
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    for (const h of hashes) h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const out: Partial<Record<A, string>> = {};
  algorithms.forEach((a, i) => (out[a] = hashes[i]!.digest("hex")));
  return { size, ...out };
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Run `work` over `items` with at most `limit` in flight; results keep the input order.
 * After the first failure no new item is started (a failed assembly should not go on downloading), and it
 * is thrown once the items already in flight have ended: nothing of the call still runs when it rejects.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await work(items[i]!);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (rejected) throw rejected.reason;
  return results;
}
