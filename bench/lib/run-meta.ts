// What a benchmark run was, for the head of its results: the command, the code measured
// (commit, and whether the tree was dirty), the machine and its load average.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { RunMeta } from './markdown.ts';

function revision(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty ? `${commit} + uncommitted changes` : commit;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** The load average over 1, 5 and 15 minutes, as /proc/loadavg says it. */
export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'unknown';
  }
}

/** The run's head as it starts: `script` is the path from the repository root (bench/run.ts). */
export function startRunMeta(script: string, argv: readonly string[]): RunMeta {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return {
    date: new Date().toISOString(),
    command: `./node_modules/.bin/node ${script} ${argv.join(' ')}`.trim(),
    revision: revision(),
    machine: `${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}, ${process.platform}`,
    loadBefore: loadAverage(),
  };
}
