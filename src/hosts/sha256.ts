// sha256 of local data, hex, as `sha256sum` prints it, so local and remote copies can be compared.

export const bytesSha256 = (data: string | Uint8Array): string =>
  new Bun.CryptoHasher("sha256").update(data).digest("hex");

// Streamed: the binary runs to ~100 MB. A run that needs a digest more than once keeps it itself
// (the binary phase: PhaseContext.once), so nothing is cached here.
export async function fileSha256(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}
