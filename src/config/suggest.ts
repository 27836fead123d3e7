// "Did you mean" for misspelt keys and values.

export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
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
    const d = levenshtein(fold(word), fold(c));
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  const tolerance = Math.max(1, Math.floor((best?.length ?? 0) / 3));
  return bestDistance <= tolerance ? best : undefined;
}
