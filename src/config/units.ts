// Parsers for the human-written values of the configuration: sizes (`50GiB`, `500MB`),
// durations (`30s`, `2m`, `1500ms`), listen addresses (`127.0.0.1:8080`, `[::1]:0`) and
// switches (`on`/`off`) and worker counts (`4`, `auto`). Each returns the value or throws an Error whose message says
// what shape was expected; the config loader prefixes the option's name and source.
import { availableParallelism } from 'node:os';
import { checkNamespacePattern } from '../core/namespace-pattern.ts';

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Bytes from `500MB`, `50GiB`, `1.5G`, `4096` (plain numbers are bytes). */
export function parseSize(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  const m = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value) : null;
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new Error(`${JSON.stringify(value)} is not a size: use a number of bytes or a unit, like 500MB, 50GiB`);
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new Error(`${JSON.stringify(value)} is too large`);
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds from `30s`, `2m`, `1500ms`, `1h`, `7d`; a plain number means seconds. */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value * 1000);
  const m = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value) : null;
  if (!m) throw new Error(`${JSON.stringify(value)} is not a duration: use e.g. 30s, 2m, 1500ms`);
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!);
}

const TRUE = new Set(['on', 'true', 'yes', '1']);
const FALSE = new Set(['off', 'false', 'no', '0']);

export function parseSwitch(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  const s = String(value).trim().toLowerCase();
  if (TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  throw new Error(`${JSON.stringify(value)} is not a switch: use on or off`);
}

/**
 * A worker count: a whole number from 1 to 256, or `auto` for one per core this process
 * may use (os.availableParallelism()).
 */
export function parseWorkers(value: unknown): number {
  if (typeof value === 'string' && value.trim().toLowerCase() === 'auto') return availableParallelism();
  const n =
    typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new Error(`${JSON.stringify(value)} is not a worker count: use a whole number from 1 to 256, or auto`);
  }
  return n;
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, `:port` (all interfaces) or `[v6]:port`; port 0 picks a free port. */
export function parseAddress(value: unknown): ListenAddress {
  const m = typeof value === 'string' ? /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(value.trim()) : null;
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(
      `${JSON.stringify(value)} is not a listen address: use host:port, e.g. 127.0.0.1:8080 (port 0 = any free port)`,
    );
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** The address in `host:port` form, bracketing IPv6 hosts. */
export function formatAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Bytes in the largest whole unit, for start-up lines: 10 GiB, 500 MiB, 123 B. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

const MOUNT_SEGMENT = /^[A-Za-z0-9._~-]+$/;

/**
 * The path segments of a mount point from `/v8`, `/v1/cache/`, `gradle`; `''` or `off`
 * gives undefined (the protocol is not mounted). Segments are plain URL characters, never
 * `.` or `..`.
 */
export function parseMount(value: unknown): readonly string[] | undefined {
  if (value === '' || value === 'off' || value === false) return undefined;
  if (typeof value !== 'string') throw new Error(`${JSON.stringify(value)} is not a path like /v8`);
  const segments = value.split('/').filter((s) => s !== '');
  if (segments.length === 0 || segments.some((s) => !MOUNT_SEGMENT.test(s) || s === '.' || s === '..')) {
    throw new Error(
      `${JSON.stringify(value)} is not a mount path: use segments of letters, digits, . _ ~ -, like /v1/cache`,
    );
  }
  return segments;
}

/** Where the status page is served: '/' is the root (no segments); '' or 'off' serves none. */
export function parseStatusPage(value: unknown): readonly string[] | undefined {
  return value === '/' ? [] : parseMount(value);
}

/** One `--namespace-quota` rule: namespaces `pattern` names may hold at most `bytes` each. */
export interface NamespaceQuota {
  readonly pattern: string;
  readonly bytes: number;
}

/** One `--namespace-fallback` rule: a read missing in a namespace `pattern` names tries `fallback`, in order. */
export interface NamespaceFallback {
  readonly pattern: string;
  readonly fallback: readonly string[];
}

/**
 * `pattern=value` rules from `a=1,b=2` or, in a config file, a mapping `{a: 1, b: 2}`;
 * order is kept (the first matching rule wins).
 */
function namespaceRules(value: unknown, what: string, example: string): [string, unknown][] {
  if (value === '' || value === 'off') return [];
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return Object.entries(value);
  const items = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined;
  if (items === undefined) throw new Error(`${JSON.stringify(value)} is not a list of ${what}: use ${example}`);
  return items
    .map((item) => String(item).trim())
    .filter((item) => item !== '')
    .map((item) => {
      const eq = item.lastIndexOf('=');
      if (eq < 0) throw new Error(`${JSON.stringify(item)} is not a ${what}: use ${example}`);
      return [item.slice(0, eq).trim(), item.slice(eq + 1).trim()];
    });
}

/** `main=20GiB,pr-*=2GiB`: a byte quota for each namespace a pattern names. */
export function parseNamespaceQuotas(value: unknown): readonly NamespaceQuota[] {
  return namespaceRules(value, 'namespace quota', 'main=20GiB,pr-*=2GiB').map(([pattern, size]) => ({
    pattern: checkNamespacePattern(pattern),
    bytes: parseSize(size),
  }));
}

/** `pr-*=main,feature-*=develop+main`: where reads missing in a namespace go next, in order. */
export function parseNamespaceFallbacks(value: unknown): readonly NamespaceFallback[] {
  return namespaceRules(value, 'namespace fallback', 'pr-*=main or feature-*=develop+main').map(([pattern, list]) => {
    const fallback = (Array.isArray(list) ? list.map(String) : String(list).split('+')).map((n) => n.trim());
    if (fallback.some((n) => n.includes('*')))
      throw new Error(`${JSON.stringify(list)}: a fallback is a namespace's exact name, not a pattern`);
    return { pattern: checkNamespacePattern(pattern), fallback };
  });
}
