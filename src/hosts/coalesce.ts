// Small reads asked for in the same turn of the event loop go to a node as ONE command: a phase's
// checks (run side by side, src/phases/steps.ts) read a dozen files each, and every command costs a
// session, a shell and a round trip (100-250 ms each on a busy node), so a re-run with nothing to do
// was mostly waiting on them (issue 20). The answers are the same as one command per key: a key the
// batch could not answer (a read error, a file too big to pass through the batch) is asked again on
// its own, whose error says exactly what the single command says.

/** Answers for keys in order; `undefined` for a key the batch leaves to `one`. */
export type BatchRunner<V> = (keys: string[]) => Promise<(V | undefined)[]>;

type Waiter<V> = { resolve: (v: V) => void; reject: (e: unknown) => void };

/**
 * A function that answers one key, gathering the keys asked for in one event-loop turn: one key alone
 * goes to `one`, two or more (up to `max` a command) to `many`. A key asked twice in a turn is asked once.
 */
export function coalescer<V>(many: BatchRunner<V>, one: (key: string) => Promise<V>, max = 64): (key: string) => Promise<V> {
  let pending = new Map<string, Waiter<V>[]>();
  let scheduled = false;

  const answer = (waiters: Waiter<V>[], p: Promise<V>) =>
    p.then(
      (v) => waiters.forEach((w) => w.resolve(v)),
      (e) => waiters.forEach((w) => w.reject(e)),
    );

  const settle = async (keys: string[], batch: Map<string, Waiter<V>[]>) => {
    if (keys.length === 1) return answer(batch.get(keys[0]!)!, one(keys[0]!));
    let results: (V | undefined)[];
    try {
      results = await many(keys);
    } catch (e) {
      for (const k of keys) batch.get(k)!.forEach((w) => w.reject(e));
      return;
    }
    keys.forEach((k, i) => {
      const v = results[i];
      answer(batch.get(k)!, v === undefined ? one(k) : Promise.resolve(v));
    });
  };

  const flush = () => {
    scheduled = false;
    const batch = pending;
    pending = new Map();
    const keys = [...batch.keys()];
    for (let i = 0; i < keys.length; i += max) void settle(keys.slice(i, i + max), batch);
  };

  return (key) =>
    new Promise<V>((resolve, reject) => {
      const waiters = pending.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else pending.set(key, [{ resolve, reject }]);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
