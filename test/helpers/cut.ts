// Cuts a buffer into views at arbitrary points, the way a network splits a stream into
// chunks: for property tests of readers that must not care where the cuts fall.

/** `bytes` cut at the given points (taken modulo its length + 1, sorted, deduplicated), as views. */
export function cut(bytes: Buffer, points: readonly number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of [...at, bytes.length]) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}
