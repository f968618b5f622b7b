// Printing benchmark results: one row per (workload, target) with the figure, the CPU
// shares measured beside it (and the server's CPU per operation, the generator's in cores),
// and ratios hoard/peer computed from rows of the same run (a figure a run did not measure
// has no row: nothing is quoted from elsewhere). With several hoards under test (one per
// --workers value) every one of them gets its own ratios.
import { cores, type CpuShares, formatShares } from './cpu.ts';
import { HOARD, isHoardUnderTest } from './target-names.ts';

/** One measured figure. `value` is in `unit` (req/s, MB/s, blobs/s, calls/s, s, B/blob). */
export interface Row {
  readonly workload: string;
  /**
   * Who served it: 'hoard', 'hoard (N workers)' or 'hoard (TLS + token|Basic)' (the hoard
   * under test), 'hoard@<commit>', 'nginx', 'bazel-remote' (or 'bazel-remote (TLS + Basic)'),
   * or a ceiling like 'sha256 (1 core)'.
   */
  readonly target: string;
  readonly value: number;
  readonly unit: string;
  /** Extra figures (p95 ms, errors, counts) shown after the value. */
  readonly detail?: string;
  readonly cpu?: CpuShares;
  /** Set when the run was not clean (errors, non-distinct bodies): the figure is suspect. */
  readonly warning?: string;
}

export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US');
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** Pads columns to the widest cell; the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const out = [line(rows[0] ?? [])];
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) out.push(line(r));
  return out.join('\n');
}

/**
 * `hoard`'s figure over this row's, same workload and unit (`hoard` is a hoard under test:
 * 'hoard' or 'hoard (N workers)'); undefined for its own row or when not comparable.
 */
export function hoardRatio(
  rows: readonly Row[],
  r: Row,
  hoard: string = HOARD,
): { ratio: number; suspect: boolean } | undefined {
  const h = rows.find((x) => x.workload === r.workload && x.target === hoard);
  if (!h || r === h || r.value <= 0 || r.unit !== h.unit) return undefined;
  return { ratio: h.value / r.value, suspect: Boolean(h.warning || r.warning) };
}

/** "1.23x" = `hoard`'s figure over this row's (see hoardRatio); '' when there is none. */
export function ratioCell(rows: readonly Row[], r: Row, hoard: string = HOARD): string {
  const x = hoardRatio(rows, r, hoard);
  return x ? `${x.ratio.toFixed(2)}x${x.suspect ? ' (suspect)' : ''}` : '';
}

/**
 * The server's CPU per unit of the row's rate, in µs ("52.1 µs/req", "480 µs/MB"); '' when
 * the row is not a rate or no server process was measured (in-process ceilings).
 */
export function serverCpuPerOp(r: Row): string {
  if (!r.cpu || r.cpu.server <= 0 || r.value <= 0 || !r.unit.endsWith('/s')) return '';
  const per = r.unit.slice(0, -2);
  // blobs/s → µs/blob; req/s and MB/s stay.
  const one = per.length > 2 && per.endsWith('s') ? per.slice(0, -1) : per;
  return `${formatNumber((cores(r.cpu.server) * 1e6) / r.value)} µs/${one}`;
}

/** The load generator's CPU in cores ("0.62"); '' when not measured. */
export function generatorCores(r: Row): string {
  return r.cpu ? cores(r.cpu.generator).toFixed(2) : '';
}

/** Workloads in the order first measured. */
export function workloadsOf(rows: readonly Row[]): string[] {
  return [...new Set(rows.map((r) => r.workload))];
}

const PEER_RANK = (t: string) =>
  isHoardUnderTest(t)
    ? 0
    : t.startsWith('hoard@')
      ? 1
      : t === 'bazel-remote' || t.startsWith('bazel-remote (')
        ? 2
        : t === 'nginx'
          ? 3
          : 4;

/** A server that runs the same workloads as hoard (an earlier hoard, bazel-remote, nginx), not a ceiling of one part. */
export function isPeer(target: string): boolean {
  const rank = PEER_RANK(target);
  return rank > 0 && rank < 4;
}

/** The hoards under test among `rows` ('hoard', or one 'hoard (N workers)' per N), in the order first measured. */
export function hoardsOf(rows: readonly Row[]): string[] {
  return [...new Set(rows.map((r) => r.target))].filter(isHoardUnderTest);
}

/** Targets side by side: the hoards under test, earlier checkouts, bazel-remote, nginx, then the ceilings as measured. */
export function targetsOf(rows: readonly Row[]): string[] {
  const seen = [...new Set(rows.map((r) => r.target))];
  return seen
    .map((t, i) => ({ t, i }))
    .sort((a, b) => PEER_RANK(a.t) - PEER_RANK(b.t) || a.i - b.i)
    .map((x) => x.t);
}

/**
 * Renders one row per (workload, target), grouped by workload, the targets in the order of
 * `targetsOf`. Every hoard under test gets a ratio column "<hoard>/this": its figure over
 * each other target's on the same workload ("hoard/this" when there is one, named 'hoard').
 */
export function renderRows(title: string, rows: readonly Row[]): string {
  const hoards = hoardsOf(rows);
  const ratioHeads = hoards.length ? hoards.map((h) => `${h}/this`) : ['hoard/this'];
  const header = [
    'workload',
    'target',
    'value',
    'unit',
    ...ratioHeads,
    'cpu (of machine)',
    'srv CPU/op',
    'gen CPU (cores)',
    'detail',
  ];
  const body: string[][] = [header];
  const targets = targetsOf(rows);
  const ordered = workloadsOf(rows).flatMap((w) =>
    targets.flatMap((t) => rows.filter((r) => r.workload === w && r.target === t)),
  );
  for (const r of ordered) {
    const ratios = hoards.length ? hoards.map((h) => ratioCell(rows, r, h)) : [''];
    const detail = [r.detail, r.warning ? `WARNING: ${r.warning}` : undefined].filter(Boolean).join('; ');
    body.push([
      r.workload,
      r.target,
      formatNumber(r.value),
      r.unit,
      ...ratios,
      r.cpu ? formatShares(r.cpu) : '',
      serverCpuPerOp(r),
      generatorCores(r),
      detail,
    ]);
  }
  return `\n== ${title} ==\n${table(body)}\n`;
}

/** Latency percentiles (ms) from a list of durations (ms). */
export function percentile(sortedMs: readonly number[], p: number): number {
  if (sortedMs.length === 0) return 0;
  const i = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[i] ?? 0;
}

export function summarizeLatency(ms: number[]): { p50: number; p95: number; p99: number } {
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p95: percentile(ms, 95), p99: percentile(ms, 99) };
}

export function mb(bytes: number): number {
  return bytes / 1e6;
}
