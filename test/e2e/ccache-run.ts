// Drives the real ccache in remote_only mode over a few salted C sources, for ccache.test.ts and
// two-servers.test.ts. Contracts:
// - the salt is in the preprocessed text of every source, so the first run is always cold;
// - every run has its own fresh CCACHE_DIR and config (remote only, no local cache to answer
//   from) and no CCACHE_* variable of the caller's, so hits can only come from the remote;
// - results are ccache's own statistics for that directory, the hashes of the objects it wrote
//   and its output and log, for failure messages.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashBytes } from '../../src/core/digest.ts';
import { runCommand, tail } from './clients.ts';

/** How many sources writeSources writes and compileAll compiles. */
export const SOURCES = 4;

export interface CcacheRun {
  /** `ccache --print-stats` of the run's private CCACHE_DIR. */
  readonly stats: ReadonlyMap<string, number>;
  /** Object file name -> digest of its bytes. */
  readonly objects: ReadonlyMap<string, string>;
  /** Every compile's output, then ccache's log file. */
  readonly log: string;
}

/** One of the run's statistics; fails when ccache did not print it. */
export function stat(run: CcacheRun, name: string): number {
  const v = run.stats.get(name);
  assert.ok(v !== undefined, `ccache --print-stats has no ${name}`);
  return v;
}

/** C sources whose preprocessed text contains the salt (an unused -D would be ignored by ccache). */
export async function writeSources(dir: string, salt: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'salt.h'), `#define HOARD_SALT "${salt}"\n`);
  for (let i = 0; i < SOURCES; i++) {
    const body = [
      '#include "salt.h"',
      `const char *unit${i}_name(void) { return "unit ${i} " HOARD_SALT; }`,
      `int unit${i}_sum(int n) { int s = 0; for (int k = 0; k < n; k++) s += k * ${i + 1}; return s; }`,
      '',
    ].join('\n');
    await writeFile(join(dir, `unit${i}.c`), body);
  }
}

/**
 * Compiles every source in `src` through ccache with a fresh private CCACHE_DIR and config
 * (remote only: no local cache to answer from), then reads the statistics of that directory.
 * `label` names the run's directories under `src`; `remote` is ccache's remote_storage.
 */
export async function compileAll(src: string, label: string, remote: string): Promise<CcacheRun> {
  const ccacheDir = join(src, `ccache-${label}`);
  const out = join(src, `out-${label}`);
  await mkdir(ccacheDir, { recursive: true });
  await mkdir(out, { recursive: true });
  const conf = join(ccacheDir, 'ccache.conf');
  await writeFile(conf, `remote_storage = ${remote}\nremote_only = true\nstats = true\n`);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CCACHE_')) env[k] = v;
  Object.assign(env, { CCACHE_CONFIGPATH: conf, CCACHE_DIR: ccacheDir, CCACHE_LOGFILE: join(ccacheDir, 'ccache.log') });

  let log = '';
  const objects = new Map<string, string>();
  for (let i = 0; i < SOURCES; i++) {
    const obj = join(out, `unit${i}.o`);
    const r = await runCommand('ccache', ['cc', '-O2', '-c', `unit${i}.c`, '-o', obj], src, env);
    log += r.output;
    assert.equal(r.code, 0, `ccache cc unit${i}.c (${label}) failed:\n${tail(r.output)}`);
    objects.set(`unit${i}.o`, hashBytes(await readFile(obj)));
  }
  const s = await runCommand('ccache', ['--print-stats'], src, env);
  assert.equal(s.code, 0, `ccache --print-stats failed:\n${s.output}`);
  const stats = new Map<string, number>();
  for (const line of s.output.split('\n')) {
    const m = /^(\w+)\t(\d+)$/.exec(line.trim());
    if (m !== null) stats.set(m[1]!, Number(m[2]));
  }
  log += await readFile(join(ccacheDir, 'ccache.log'), 'utf8').catch(() => '');
  return { stats, objects, log };
}
