// Byte ranges (RFC 9110 §14): clients resume interrupted layer downloads and fetch parts of repo metadata.
// Only a single range is honoured; a multi-range request is answered with the whole body, which the RFC allows.

export type RangeResult = { start: number; end: number } | "unsatisfiable" | null;

/** Parse a Range header against a body of `size` bytes. null: no (usable) range, send it all. */
export function parseRange(header: string | null, size: number): RangeResult {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const [, first, last] = m as unknown as [string, string, string];
  if (first === "" && last === "") return null;
  if (first === "") {
    // suffix range: the last N bytes
    const n = Number(last);
    if (n === 0) return "unsatisfiable";
    return size === 0 ? "unsatisfiable" : { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return "unsatisfiable";
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return null; // syntactically invalid: ignore it
  return { start, end };
}
