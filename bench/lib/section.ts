// What each benchmark script returns: its rows, its goals (hoard's targets, judged against
// figures of the same run only), and notes on conditions. run.ts prints these and writes
// them as JSON and Markdown.
import { formatNumber, hoardsOf, renderRows, type Row } from './report.ts';
import { HOARD } from './target-names.ts';

export interface Goal {
  readonly text: string;
  /** undefined when it could not be judged (a peer missing, a run failed). */
  readonly met: boolean | undefined;
}

export interface Section {
  readonly title: string;
  readonly rows: Row[];
  readonly goals: Goal[];
  readonly notes: string[];
  /** The load average (1, 5, 15 min) before and after the section ran, when run.ts ran it. */
  load?: { readonly before: string; readonly after: string };
  /**
   * The ratio columns of the Markdown table (`h` / `below`), when the default (each hoard
   * under test over each one measured before it and over every peer) would set setups
   * against each other that are not comparable (bench/secured.ts: a secured hoard over a
   * plain peer).
   */
  ratios?: readonly { readonly h: string; readonly below: string }[];
}

export function newSection(title: string): Section {
  return { title, rows: [], goals: [], notes: [] };
}

export function renderSection(s: Section): string {
  const goals = s.goals.map((g) => `  [${g.met === undefined ? '?' : g.met ? 'met' : 'MISSED'}] ${g.text}`);
  const notes = s.notes.map((n) => `  - ${n}`);
  return (
    [renderRows(s.title, s.rows), goals.length ? 'goals:' : '', ...goals, notes.length ? 'notes:' : '', ...notes]
      .filter((l) => l !== '')
      .join('\n') + '\n'
  );
}

/**
 * A goal "hoard ≥ factor × peer" on one workload, judged only against the peer measured in
 * this run, once for every hoard under test (one per --workers value), or for each of
 * `hoards` when given (a secured hoard against the plain one, or against a peer in the
 * same setup); when the peer was not run, the goal says so (`howToRun` tells how) and is
 * not judged.
 */
export function ratioGoal(
  s: Section,
  workload: string,
  peer: string,
  factor: number,
  howToRun = '',
  hoards?: readonly string[],
): void {
  const measured = s.rows.find((r) => r.workload === workload && r.target === peer);
  if (!s.rows.some((r) => r.target === peer)) {
    s.goals.push({
      text: `${workload}: ${hoards?.join(', ') ?? HOARD} ≥ ${factor}× ${peer} — not judged: ${peer} was not run${howToRun ? ` (${howToRun})` : ''}`,
      met: undefined,
    });
    return;
  }
  const underTest = hoards ?? hoardsOf(s.rows);
  for (const name of underTest.length ? underTest : [HOARD]) {
    const hoard = s.rows.find((r) => r.workload === workload && r.target === name);
    const goal = `${workload}: ${name} ≥ ${factor}× ${peer}`;
    if (!hoard || !measured || measured.value <= 0) {
      s.goals.push({ text: `${goal} — not judged: no ${hoard ? peer : name} figure`, met: undefined });
      continue;
    }
    const ratio = hoard.value / measured.value;
    const suspect = hoard.warning || measured.warning ? ' — not judged: a run was not clean' : '';
    s.goals.push({
      text: `${workload}: ${name} ${formatNumber(hoard.value)} ${hoard.unit} vs ${peer} ${formatNumber(measured.value)} → ${ratio.toFixed(2)}× (goal ≥ ${factor}×)${suspect}`,
      met: suspect ? undefined : ratio >= factor,
    });
  }
}

/** A goal "figure ≥ min" (or ≤ max) for an absolute target. */
export function thresholdGoal(
  s: Section,
  label: string,
  value: number | undefined,
  unit: string,
  bound: { min?: number; max?: number },
): void {
  if (value === undefined || !Number.isFinite(value)) {
    s.goals.push({ text: `${label}: not measured`, met: undefined });
    return;
  }
  const want = bound.min !== undefined ? `≥ ${formatNumber(bound.min)}` : `≤ ${formatNumber(bound.max ?? 0)}`;
  const met = (bound.min === undefined || value >= bound.min) && (bound.max === undefined || value <= bound.max);
  s.goals.push({ text: `${label}: ${formatNumber(value)} ${unit} (goal ${want} ${unit})`, met });
}

export function formatSize(bytes: number): string {
  for (const [unit, k] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= k && bytes % k === 0) return `${bytes / k} ${unit}`;
  }
  return `${bytes} B`;
}
