// sha256 of local data, hex, as `sha256sum` prints it, so local and remote copies can be compared.
import { stat } from "node:fs/promises";

export const bytesSha256 = (data: string | Uint8Array): string =>
  new Bun.CryptoHasher("sha256").update(data).digest("hex");

// The binary hashes itself once per node otherwise; remember by (path, size, mtime).
const fileCache = new Map<string, { size: number; mtimeMs: number; sum: string }>();

export async function fileSha256(path: string): Promise<string> {
  const st = await stat(path);
  const hit = fileCache.get(path);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sum;
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  const sum = hasher.digest("hex");
  fileCache.set(path, { size: st.size, mtimeMs: st.mtimeMs, sum });
  return sum;
}
