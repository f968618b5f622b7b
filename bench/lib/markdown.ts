// A section as Markdown, for bench/RESULTS.md: what ran and where above ONE table with the
// workloads as rows and the targets side by side as columns (hoard — or one hoard per
// worker count —, hoard@<commit>, bazel-remote, nginx, then the ceilings), each cell the
// figure with its unit and the CPU shares during it, then a column hoard / <peer> for every
// peer and every hoard under test (and, with several worker counts, each hoard over the
// ones with fewer workers; the ceilings have their own notes), or the ratio columns the
// section names; below it the server's CPU per operation, the goal verdicts, the notes and
// each figure's details. Every figure is from the same run.
import { type CpuShares, formatThreads } from './cpu.ts';
import {
  formatNumber,
  generatorCores,
  hoardRatio,
  hoardsOf,
  isPeer,
  type Row,
  serverCpuPerOp,
  targetsOf,
  workloadsOf,
} from './report.ts';
import type { Section } from './section.ts';

/** What a run was: printed above each section's table. */
export interface RunMeta {
  readonly date: string;
  readonly command: string;
  /** The code measured: commit, and "+ uncommitted changes" when the tree was dirty. */
  readonly revision: string;
  readonly machine: string;
  readonly loadBefore: string;
  readonly loadAfter?: string;
}

const escape = (s: string) => s.replace(/\|/g, '\\|');

/** "gen 12 · srv 61 · oth 9 %": shares of the whole machine, as in formatShares. */
function compactShares(c: CpuShares): string {
  const pct = (x: number) => Math.round(x * 100);
  return `gen ${pct(c.generator)} · srv ${pct(c.server)} · oth ${pct(c.other)} %`;
}

function figureCell(r: Row | undefined): string {
  if (!r) return '—';
  const value = `${formatNumber(r.value)} ${r.unit}${r.warning ? ' ⚠' : ''}`;
  return r.cpu ? `${value}<br><sub>${compactShares(r.cpu)}</sub>` : value;
}

export function renderSectionMarkdown(s: Section, run?: RunMeta): string {
  const lines = [`### ${s.title}`, ''];
  if (run) {
    const load = s.load ?? { before: run.loadBefore, after: run.loadAfter ?? 'unknown' };
    lines.push(
      `\`${run.command}\``,
      '',
      `Run ${run.date}, code ${run.revision}. Machine: ${run.machine}. Load average (1, 5, 15 min) before ${load.before}, after ${load.after}.`,
      '',
    );
  }
  const targets = targetsOf(s.rows);
  const find = (w: string, t: string) => s.rows.find((r) => r.workload === w && r.target === t);
  const workloads = workloadsOf(s.rows);
  // A ratio column for each hoard under test over each hoard with fewer workers (measured
  // before it), then over each peer, where the two share a workload (and unit); or the
  // section's own columns.
  const hoards = hoardsOf(s.rows);
  const ratios = (
    s.ratios ?? [
      ...hoards.flatMap((below, i) => hoards.slice(i + 1).map((h) => ({ h, below }))),
      ...targets.filter(isPeer).flatMap((below) => hoards.map((h) => ({ h, below }))),
    ]
  ).filter(({ h, below }) =>
    workloads.some((w) => {
      const r = find(w, below);
      return r !== undefined && hoardRatio(s.rows, r, h) !== undefined;
    }),
  );
  if (s.rows.length) {
    const header = ['workload', ...targets, ...ratios.map(({ h, below }) => `${h} / ${below}`)];
    lines.push(`| ${header.map(escape).join(' | ')} |`);
    lines.push(
      `|---|${header
        .slice(1)
        .map(() => '---:')
        .join('|')}|`,
    );
    for (const w of workloads) {
      const ratioCells = ratios.map(({ h, below }) => {
        const r = find(w, below);
        const x = r && hoardRatio(s.rows, r, h);
        return x ? `${x.ratio.toFixed(2)}×${x.suspect ? ' ⚠' : ''}` : '';
      });
      const cells = [w, ...targets.map((t) => figureCell(find(w, t))), ...ratioCells];
      lines.push(`| ${cells.map(escape).join(' | ')} |`);
    }
    lines.push(
      '',
      '<sub>Under each figure, the CPU used while it was measured, as % of the whole machine (all cores = 100): gen = load generator, srv = server, oth = everything else. — = not measured for that target; ⚠ = the run was not clean (see below).</sub>',
    );
  } else {
    lines.push('No figures: nothing was measured.');
  }
  const perOp = workloads
    .map((w) => {
      const cells = targets
        .map((t) => find(w, t))
        .filter((r): r is Row => r !== undefined && serverCpuPerOp(r) !== '')
        .map((r) => `${r.target} ${serverCpuPerOp(r)} (gen ${generatorCores(r)})`);
      return cells.length ? `- ${w}: ${cells.join(' · ')}` : '';
    })
    .filter(Boolean);
  if (perOp.length)
    lines.push(
      '',
      "Server CPU per operation (the server's CPU time over its rate; in parentheses the load generator's CPU, in cores):",
      ...perOp,
    );
  const unclean = s.rows.filter((r) => r.warning);
  if (unclean.length) {
    lines.push('', 'Not clean:');
    for (const r of unclean) lines.push(`- ⚠ ${r.workload} · ${r.target}: ${r.warning}`);
  }
  if (s.goals.length) {
    lines.push('', 'Goals:');
    for (const g of s.goals)
      lines.push(`- ${g.met === undefined ? '❔ not judged' : g.met ? '✅ met' : '❌ missed'}: ${g.text}`);
  }
  if (s.notes.length) {
    lines.push('', 'Notes:');
    for (const n of s.notes) lines.push(`- ${n}`);
  }
  const threads = (r: Row) => formatThreads(r.cpu?.serverThreads);
  const detailed = workloads
    .flatMap((w) => targets.map((t) => find(w, t)))
    .filter((r): r is Row => Boolean(r?.detail || (r && threads(r))));
  if (detailed.length) {
    lines.push('', '<details><summary>Details of each figure</summary>', '');
    for (const r of detailed) {
      const busiest = threads(r) ? `busiest server threads (cores): ${threads(r)}` : '';
      lines.push(`- ${r.workload} · ${r.target}: ${[r.detail, busiest].filter(Boolean).join('; ')}`);
    }
    lines.push('', '</details>');
  }
  return lines.join('\n');
}
