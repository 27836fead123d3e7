// Streaming digests: bundle payloads run to hundreds of MiB, so never read a file whole.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export interface FileDigest {
  size: number;
  sha256: string;
}

/** sha256 (hex) and byte count of a file, read in 1 MiB chunks. */
export async function sha256File(path: string): Promise<FileDigest> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest("hex") };
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * Run `work` over `items` with at most `limit` in flight; results keep the input order.
 * After the first failure no new item is started (a failed assembly should not go on downloading).
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
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
