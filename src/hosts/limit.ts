// A counting semaphore: at most `n` of the wrapped tasks run at once, the rest wait in order.

export type Limiter = <R>(task: () => Promise<R>) => Promise<R>;

export function createLimiter(n: number): Limiter {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`concurrency limit must be a whole number >= 1, got ${n}`);
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
