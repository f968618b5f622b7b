// The names the hoard under test goes by in rows, goals and tables. A run measures either
// `hoard` (as `hoard serve` starts by default), or one `hoard (N worker[s])` per value of
// --workers, side by side; each of those is compared with the peers and judged on its own.
// An earlier checkout, `hoard@<short commit>`, is a peer like bazel-remote and nginx.

export const HOARD = 'hoard';

export type HoardName = typeof HOARD | `${typeof HOARD} (1 worker)` | `${typeof HOARD} (${number} workers)`;

/** `hoard` for the default settings; `hoard (1 worker)`, `hoard (2 workers)`… for `--workers N`. */
export function hoardName(workers?: number): HoardName {
  if (workers === undefined) return HOARD;
  return workers === 1 ? `${HOARD} (1 worker)` : `${HOARD} (${workers} workers)`;
}

const UNDER_TEST = /^hoard(?: \(\d+ workers?\))?$/;

/** Whether `target` is the hoard under test (any worker count), not an earlier checkout or a peer. */
export function isHoardUnderTest(target: string): boolean {
  return UNDER_TEST.test(target);
}
