// The tables of bench/scaling.ts: one per workload, one line per worker count, read across
// as "what one more request thread buys": the figure, its speed-up over 1 worker, what the
// server spent for it (cores, and CPU per operation), what the generator and the rest of
// the machine took meanwhile (on a small machine they share the server's cores), and the
// server's busiest threads (the store's main thread, or the request threads). As text for
// the terminal and as a Markdown fragment for bench/RESULTS.md.
import { cores, formatThreads } from './cpu.ts';
import type { RunMeta } from './markdown.ts';
import { formatNumber, generatorCores, type Row, serverCpuPerOp, table, workloadsOf } from './report.ts';
import type { Section } from './section.ts';
import { hoardName } from './target-names.ts';

/** One workload across the worker counts: a header and one line of cells per count. */
interface ScalingTable {
  readonly workload: string;
  readonly header: readonly string[];
  readonly lines: readonly (readonly string[])[];
  /** Figures whose run was not clean, as "N workers: why". */
  readonly unclean: readonly string[];
}

function scalingTable(workload: string, rows: readonly Row[], workers: readonly number[]): ScalingTable {
  const at = (n: number) => rows.find((r) => r.workload === workload && r.target === hoardName(n));
  const first = workers[0] ?? 1;
  const base = at(first);
  const unit = base?.unit ?? rows.find((r) => r.workload === workload)?.unit ?? 'value';
  const header = [
    'workers',
    unit,
    `speed-up vs ${first} worker${first === 1 ? '' : 's'}`,
    'server CPU (cores)',
    'server CPU/op',
    'generator CPU (cores)',
    'other CPU (cores)',
    'busiest server threads (cores)',
    'detail',
  ];
  const lines = workers.map((n) => {
    const r = at(n);
    if (!r) return [String(n), 'not measured (see the notes)', '', '', '', '', '', '', ''];
    const speedUp = base && base.value > 0 && r.unit === base.unit ? r.value / base.value : undefined;
    const suspect = r.warning || base?.warning ? ' ⚠' : '';
    return [
      String(n),
      `${formatNumber(r.value)}${r.warning ? ' ⚠' : ''}`,
      speedUp === undefined ? '' : `${speedUp.toFixed(2)}×${suspect}`,
      r.cpu ? cores(r.cpu.server).toFixed(2) : '',
      serverCpuPerOp(r),
      generatorCores(r),
      r.cpu ? cores(r.cpu.other).toFixed(2) : '',
      formatThreads(r.cpu?.serverThreads),
      r.detail ?? '',
    ];
  });
  const unclean = workers.flatMap((n) => {
    const r = at(n);
    return r?.warning ? [`${hoardName(n)}: ${r.warning}`] : [];
  });
  return { workload, header, lines, unclean };
}

function tablesOf(sections: readonly Section[], workers: readonly number[]): ScalingTable[] {
  return sections.flatMap((s) => workloadsOf(s.rows).map((w) => scalingTable(w, s.rows, workers)));
}

/** Every section's tables as text, then its notes (what ran, how connections spread). */
export function renderScaling(sections: readonly Section[], workers: readonly number[]): string {
  const out: string[] = [];
  for (const s of sections) {
    for (const t of tablesOf([s], workers)) {
      out.push(`\n== ${t.workload} ==`, table([t.header, ...t.lines]));
      for (const u of t.unclean) out.push(`  WARNING ${u}`);
    }
    if (s.notes.length) out.push(`notes (${s.title}):`, ...s.notes.map((n) => `  - ${n}`));
  }
  return out.join('\n') + '\n';
}

const escape = (s: string) => s.replace(/\|/g, '\\|');

/** The run as a Markdown fragment: what ran and where, then a table per workload, then the notes. */
export function renderScalingMarkdown(sections: readonly Section[], workers: readonly number[], run: RunMeta): string {
  const lines = [
    '### Scaling with request threads (`hoard serve --workers N`)',
    '',
    `\`${run.command}\``,
    '',
    `Run ${run.date}, code ${run.revision}. Machine: ${run.machine}. Load average (1, 5, 15 min) before ${run.loadBefore}, after ${run.loadAfter ?? 'unknown'}.`,
    '',
    `Worker counts ${workers.join(', ')}, each its own server, one after the other. CPU in cores (1.00 = one core busy throughout); server CPU/op = the server's CPU time over its rate; ⚠ = the run was not clean (see below).`,
  ];
  for (const t of tablesOf(sections, workers)) {
    lines.push('', `#### ${t.workload}`, '');
    lines.push(`| ${t.header.map(escape).join(' | ')} |`);
    // Figures right-aligned; the threads and the details are text.
    lines.push(`|${t.header.map((_, i) => (i < t.header.length - 2 ? '---:' : '---')).join('|')}|`);
    for (const l of t.lines) lines.push(`| ${l.map(escape).join(' | ')} |`);
    if (t.unclean.length) lines.push('', ...t.unclean.map((u) => `- ⚠ ${u}`));
  }
  for (const s of sections) if (s.notes.length) lines.push('', `Notes (${s.title}):`, ...s.notes.map((n) => `- ${n}`));
  return lines.join('\n') + '\n';
}
