// The names the hoard under test goes by in rows, goals and tables. A run measures either
// `hoard` (as `hoard serve` starts by default), or one `hoard (N worker[s])` per value of
// --workers, side by side; each of those is compared with the peers and judged on its own.
// An earlier checkout, `hoard@<short commit>`, is a peer like bazel-remote and nginx.
// bench/secured.ts measures the hoard under test in three setups side by side: `hoard`
// (plain), `hoard (TLS + token)` and `hoard (TLS + Basic)`; its peer runs plain and as
// `bazel-remote (TLS + Basic)`.

export const HOARD = 'hoard';

/** How a secured server takes its credentials (bench/secured.ts): a bearer token, or Basic against htpasswd. */
export type SecuredBy = 'token' | 'Basic';

export type HoardName =
  | typeof HOARD
  | `${typeof HOARD} (1 worker)`
  | `${typeof HOARD} (${number} workers)`
  | `${typeof HOARD} (TLS + ${SecuredBy})`;

/** A server behind TLS taking credentials by `by`: `hoard (TLS + token)`, `bazel-remote (TLS + Basic)`. */
export function securedName<T extends string, B extends SecuredBy>(server: T, by: B): `${T} (TLS + ${B})` {
  return `${server} (TLS + ${by})`;
}

/** `hoard` for the default settings; `hoard (1 worker)`, `hoard (2 workers)`… for `--workers N`. */
export function hoardName(workers?: number): HoardName {
  if (workers === undefined) return HOARD;
  return workers === 1 ? `${HOARD} (1 worker)` : `${HOARD} (${workers} workers)`;
}

const UNDER_TEST = /^hoard(?: \((?:\d+ workers?|TLS \+ (?:token|Basic))\))?$/;

/** Whether `target` is the hoard under test (any worker count or secured setup), not an earlier checkout or a peer. */
export function isHoardUnderTest(target: string): boolean {
  return UNDER_TEST.test(target);
}
