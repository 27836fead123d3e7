// "Did you mean" for misspelt keys and values.

/** Edit distance counting a swap of two neighbouring letters as one edit (prot -> port), as typos go. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  return d[a.length]![b.length]!;
}

/** virtual_router_id, Virtual-Router-ID and virtualRouterId all fold to the same thing. */
const fold = (s: string) => s.toLowerCase().replace(/[-_ ]/g, "");

/** The candidate closest to `word`, if it is close enough to be a plausible typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  if (word.length > 200) return undefined;
  const exact = candidates.find((c) => fold(c) === fold(word));
  if (exact) return exact;
  // stateDirectory -> stateDir, vrrp -> vrrpMode: one is the other with a word added or cut off.
  const extended = candidates.find((c) => Math.min(c.length, word.length) >= 4 && (fold(word).startsWith(fold(c)) || fold(c).startsWith(fold(word))));
  if (extended) return extended;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(fold(word), fold(c));
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  const tolerance = Math.max(1, Math.floor((best?.length ?? 0) / 3));
  return bestDistance <= tolerance ? best : undefined;
}
