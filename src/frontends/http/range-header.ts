// Parses a `Range: bytes=...` request header against an entry's size (RFC 9110 §14).
// Bazel resumes an interrupted CAS download with `bytes=N-`; we also accept `N-M` and
// the suffix form `-N`. Several ranges in one header are answered with the whole entry,
// which the RFC allows and no cache client needs otherwise.

export type RangeAnswer =
  | { readonly kind: 'full' }
  | { readonly kind: 'partial'; readonly start: number; readonly end: number /* inclusive */ }
  | { readonly kind: 'unsatisfiable' };

const SINGLE = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i;

/** What to send for `header` on an entry of `size` bytes. */
export function resolveRangeHeader(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'full' };
  const m = SINGLE.exec(header);
  // Unknown units and multi-range requests are ignored: a 200 with the whole entry.
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size) return { kind: 'unsatisfiable' };
  if (end < start) return { kind: 'full' };
  return { kind: 'partial', start, end };
}
