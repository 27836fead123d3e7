// Run one task per item (usually per node) with at most `limit` at once and a deadline each.
// Every item gets its own result: one failing or hanging node never hides what the others did.
import { createLimiter } from "./limit.ts";

export type FanOutResult<T, R> =
  | { item: T; ok: true; value: R; ms: number }
  | { item: T; ok: false; error: Error; ms: number };

export interface FanOutEvent<T> {
  item: T;
  state: "started" | "done" | "failed";
  /** Since this item started. */
  elapsedMs: number;
  /** Items finished so far (done or failed), out of total. */
  finished: number;
  total: number;
  error?: Error;
}

export interface FanOutOptions<T> {
  /** Per item; the item fails with a TimeoutError and its AbortSignal fires. */
  timeoutMs: number;
  onProgress?: (event: FanOutEvent<T>) => void;
}

export class TimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${+(ms / 1000).toFixed(1)}s`);
    this.name = "TimeoutError";
  }
}

// HostError messages already start with the node's name; do not say it twice.
const withName = (name: string, message: string) => (message.startsWith(`${name}: `) ? message : `${name}: ${message}`);

/** One error naming every failed item, for callers that need all items to succeed. */
export class FanOutError<T> extends Error {
  constructor(readonly failures: { item: T; error: Error }[], name: (item: T) => string) {
    super(failures.map((f) => withName(name(f.item), f.error.message)).join("\n"));
    this.name = "FanOutError";
  }
}

const asError = (e: unknown) => (e instanceof Error ? e : new Error(String(e)));

export async function fanOut<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, signal: AbortSignal) => Promise<R>,
  opts: FanOutOptions<T>,
): Promise<FanOutResult<T, R>[]> {
  const limited = createLimiter(limit);
  let finished = 0;
  const total = items.length;
  const report = (e: Omit<FanOutEvent<T>, "finished" | "total">) => opts.onProgress?.({ ...e, finished, total });

  const one = async (item: T): Promise<FanOutResult<T, R>> => {
    const started = performance.now();
    const ms = () => performance.now() - started;
    const abort = new AbortController();
    let timer: Timer | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new TimeoutError(opts.timeoutMs);
        abort.abort(error);
        reject(error);
      }, opts.timeoutMs);
    });
    report({ item, state: "started", elapsedMs: 0 });
    try {
      const value = await Promise.race([Promise.resolve().then(() => fn(item, abort.signal)), deadline]);
      finished++;
      report({ item, state: "done", elapsedMs: ms() });
      return { item, ok: true, value, ms: ms() };
    } catch (e) {
      const error = asError(e);
      finished++;
      report({ item, state: "failed", elapsedMs: ms(), error });
      return { item, ok: false, error, ms: ms() };
    } finally {
      clearTimeout(timer);
    }
  };

  return Promise.all(items.map((item) => limited(() => one(item))));
}

/** The values in item order, or a FanOutError listing every item that failed. */
export function valuesOrThrow<T, R>(results: FanOutResult<T, R>[], name: (item: T) => string): R[] {
  const failures = results.flatMap((r) => (r.ok ? [] : [{ item: r.item, error: r.error }]));
  if (failures.length) throw new FanOutError(failures, name);
  return results.map((r) => (r as { value: R }).value);
}
