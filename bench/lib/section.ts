// What each benchmark script returns: its rows, its goals checked against the issues'
// targets, and notes on conditions. run.ts prints these and writes them as JSON.
import { formatNumber, renderRows, type Row } from './report.ts';

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
 * A goal "hoard ≥ factor × peer" on one workload: against the measured peer row when the
 * run has one, else against the issue's reference figure, saying which.
 */
export function ratioGoal(s: Section, workload: string, peer: string, factor: number, referenceValue?: number): void {
  const hoard = s.rows.find((r) => r.workload === workload && r.target === 'hoard' && !r.reference);
  const measured = s.rows.find((r) => r.workload === workload && r.target === peer && !r.reference);
  const base = measured?.value ?? referenceValue;
  if (!hoard || base === undefined || base <= 0) {
    s.goals.push({
      text: `${workload}: hoard ≥ ${factor}× ${peer} — not judged (${hoard ? `no ${peer} figure` : 'no hoard figure'})`,
      met: undefined,
    });
    return;
  }
  const ratio = hoard.value / base;
  const against = measured
    ? `${peer} measured ${formatNumber(base)}`
    : `${peer} reference ${formatNumber(base)} (not measured here)`;
  s.goals.push({
    text: `${workload}: hoard ${formatNumber(hoard.value)} ${hoard.unit} vs ${against} → ${ratio.toFixed(2)}× (goal ≥ ${factor}×)`,
    met: hoard.warning ? undefined : ratio >= factor,
  });
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
