// Downloads for bundle assembly (el* profiles): streamed to disk, hashed on the way, checked against
// the expected sha256 when the manifest knows it, retried on transient failures.
import { createHash } from "node:crypto";
import { createWriteStream, renameSync, rmSync } from "node:fs";
import { once } from "node:events";

export class DownloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DownloadError";
  }
}

const RETRIES = 3;
const transient = (status: number) => status === 429 || status >= 500;

/** fetch with a few retries on network errors and 5xx/429; other statuses are returned as they are. */
export async function fetchRetry(url: string, init: RequestInit = {}): Promise<Response> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= RETRIES; attempt++) {
    try {
      const res = await fetch(url, { redirect: "follow", ...init });
      if (!transient(res.status) || attempt === RETRIES) return res;
      lastError = new Error(`HTTP ${res.status}`);
      await res.body?.cancel();
    } catch (e) {
      lastError = e;
    }
    await Bun.sleep(250 * 2 ** attempt);
  }
  throw new DownloadError(`GET ${url} failed after ${RETRIES} tries: ${(lastError as Error).message}`);
}

export async function fetchOk(url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetchRetry(url, init);
  if (!res.ok) {
    await res.body?.cancel();
    throw new DownloadError(`GET ${url}: HTTP ${res.status} ${res.statusText}`);
  }
  return res;
}

export interface Downloaded {
  size: number;
  sha256: string;
}

/**
 * Stream a response body to `dest` (via dest.part, renamed only when complete and matching).
 * `expect.sha256` may be a hex sum; a mismatch deletes the file and names both sums.
 */
export async function downloadTo(url: string, dest: string, expect: { sha256?: string; size?: number } = {}, init: RequestInit = {}): Promise<Downloaded> {
  return saveBody(await fetchOk(url, init), url, dest, expect);
}

/** downloadTo for a response already in hand (e.g. after handling a redirect or a token challenge). */
export async function saveBody(res: Response, url: string, dest: string, expect: { sha256?: string; size?: number } = {}): Promise<Downloaded> {
  const part = `${dest}.part`;
  const hash = createHash("sha256");
  let size = 0;
  const out = createWriteStream(part);
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.length;
      if (!out.write(chunk)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
  } catch (e) {
    out.destroy();
    rmSync(part, { force: true });
    throw new DownloadError(`GET ${url}: transfer broke off after ${size} bytes: ${(e as Error).message}`);
  }
  const sha256 = hash.digest("hex");
  const fail = (why: string) => {
    rmSync(part, { force: true });
    return new DownloadError(`GET ${url}: ${why}; the upstream file changed or the transfer was corrupted`);
  };
  if (expect.size !== undefined && size !== expect.size) throw fail(`got ${size} bytes, expected ${expect.size}`);
  if (expect.sha256 && sha256 !== expect.sha256) throw fail(`sha256 ${sha256}, expected ${expect.sha256}`);
  renameSync(part, dest);
  return { size, sha256 };
}
