// What every benchmark shares: interleaved rounds (so a busy moment hurts every scenario alike),
// medians and the ratio table of the results files.

/** Runs every scenario once per round, in turn, and returns the milliseconds of each run. */
export async function interleavedRounds(scenarios: Record<string, () => Promise<unknown>>, rounds: number): Promise<Record<string, number[]>> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(scenarios).map((k) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, fn] of Object.entries(scenarios)) {
      const started = performance.now();
      await fn();
      samples[name]!.push(performance.now() - started);
    }
    console.error(`round ${round + 1}/${rounds} done`);
  }
  return samples;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export const medians = (samples: Record<string, number[]>): Record<string, number> =>
  Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));

export const ratioTable = (ratios: Record<string, number>): string[] => [
  "| ratio | value |",
  "| --- | ---: |",
  ...Object.entries(ratios).map(([k, v]) => `| ${k} | ${v.toFixed(2)} |`),
];
