// A section as Markdown, for pasting into bench/RESULTS.md: the same rows, ratios and
// goal verdicts as the terminal table, with reference figures labelled as not measured.
import { formatShares } from './cpu.ts';
import { formatNumber, ratioCell } from './report.ts';
import type { Section } from './section.ts';

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function renderSectionMarkdown(s: Section): string {
  const lines = [
    `### ${s.title}`,
    '',
    '| workload | target | value | hoard/x | CPU (of machine) | detail |',
    '|---|---|---:|---:|---|---|',
  ];
  for (const r of s.rows) {
    const ratio = ratioCell(s.rows, r);
    const target = r.reference ? `${r.target} — *reference, not measured here*` : r.target;
    const detail = [r.detail, r.warning ? `**warning: ${r.warning}**` : undefined].filter(Boolean).join('; ');
    lines.push(
      `| ${cell(r.workload)} | ${cell(target)} | ${formatNumber(r.value)} ${r.unit} | ${ratio} | ${r.cpu ? formatShares(r.cpu) : ''} | ${cell(detail)} |`,
    );
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
  return lines.join('\n');
}
