// The Bazel end-to-end scenarios, independent of how the cache server was started: a cold
// build fills the cache, `clean --expunge` forgets everything local, and the warm build must be
// answered entirely by the cache with byte-identical outputs. Assertions are on hit counts,
// because Bazel finishes a build locally (and reports success) when the cache fails.
import assert from 'node:assert/strict';
import { createClient } from '../../src/client/create-client.ts';
import { hashBytes } from '../../src/core/digest.ts';
import type { BazelWorkspace, BuildResult } from './bazel-workspace.ts';
import { tail } from './clients.ts';

/** Anything whose output helps explain a failure (the hoard child process). */
export interface ServerLog {
  output(): string;
}

/** Cacheable targets: chained genrules, a C++ binary (also run as a tool) and a tree artifact. */
export const CACHED_TARGETS = ['//:everything'];
/** Tagged no-remote: runs locally and, under --remote_download_minimal, downloads its inputs. */
export const LOCAL_CONSUMER = '//:local_consumer';
const LOCAL_CONSUMER_PROGRESS = /genrule \/\/:local_consumer$/;

/** Outputs of //:everything under bazel-bin compared between the cold and warm builds. */
const DEFAULT_MODE_OUTPUTS = [
  'hello',
  'hello_out.txt',
  'salt.h',
  'step1.txt',
  'step2.txt',
  'step3.txt',
  'step3.sha256',
  'tree',
  'tree_index.txt',
];
export const TREE_FILES = 320;

export interface ScenarioOptions {
  readonly salt: string;
  readonly remoteCache: string;
  /** [] for the default download mode, or ['--remote_download_minimal']. */
  readonly flags: readonly string[];
  readonly server: ServerLog;
  /** Called with each build, for timing diagnostics. */
  readonly onBuild?: (label: string, build: BuildResult) => void;
}

/** Scenario options that report each build (exit, time, runners) as a diagnostic of test `t`. */
export function reportedOptions(
  t: { diagnostic(message: string): void },
  server: ServerLog,
  remoteCache: string,
  flags: readonly string[],
  salt: string,
): ScenarioOptions {
  return {
    salt,
    remoteCache,
    flags,
    server,
    onBuild: (label: string, b: BuildResult) => {
      const counts =
        b.summary === undefined ? 'no summary' : [...b.summary.byRunner].map(([k, v]) => `${v} ${k}`).join(', ');
      t.diagnostic(`${label}: exit ${b.code}, ${(b.durationMs / 1000).toFixed(1)} s, ${counts}`);
    },
  };
}

/**
 * Default download mode: cold build, clean --expunge, warm build. The warm build must be 100%
 * remote cache hits (X = N − internal) and every output byte-identical to the cold build's.
 */
export async function coldThenWarmDefault(ws: BazelWorkspace, opts: ScenarioOptions): Promise<Outputs> {
  const before = await coldDefault(ws, opts);
  await warmDefault(ws, opts, before);
  return before;
}

/** Output hashes of a default-mode build, keyed by path under bazel-bin. */
export type Outputs = Map<string, string>;

/** A cold default-mode build (nothing in the cache for its salt); returns its outputs' hashes. */
export async function coldDefault(ws: BazelWorkspace, opts: ScenarioOptions): Promise<Outputs> {
  const cold = await ws.build({ ...opts, targets: CACHED_TARGETS });
  opts.onBuild?.('cold', cold);
  assertCold(cold, opts.server);
  const outputs = await ws.hashOutputs(DEFAULT_MODE_OUTPUTS);
  assert.equal([...outputs.keys()].filter((p) => p.startsWith('tree/')).length, TREE_FILES, 'tree artifact file count');
  return outputs;
}

/** clean --expunge, then a build that must be 100% remote cache hits with outputs equal to `expected`. */
export async function warmDefault(
  ws: BazelWorkspace,
  opts: ScenarioOptions,
  expected: Outputs,
  label = 'warm',
): Promise<void> {
  await ws.cleanExpunge();
  const warm = await ws.build({ ...opts, targets: CACHED_TARGETS });
  opts.onBuild?.(label, warm);
  assertAllHits(warm, 0, opts.server, await diagnoseDownload(warm, opts));
  const after = await ws.hashOutputs(DEFAULT_MODE_OUTPUTS);
  assert.deepEqual(after, expected, `${label}: outputs differ from the cold build`);
}

/**
 * --remote_download_minimal: outputs of cache hits stay in the cache, so byte-identity is
 * proven through the one local action, whose output hashes the tree artifact's bytes, runs the
 * C++ binary and copies the genrule chain; Bazel must download all of those from hoard.
 * Returns the local consumer's output of the cold build, for repeated warm builds.
 */
export async function coldMinimal(ws: BazelWorkspace, opts: ScenarioOptions): Promise<string> {
  const cold = await ws.build({ ...opts, targets: [...CACHED_TARGETS, LOCAL_CONSUMER] });
  opts.onBuild?.('cold', cold);
  assertCold(cold, opts.server);
  return consumerOutput(ws);
}

export async function warmMinimal(
  ws: BazelWorkspace,
  opts: ScenarioOptions,
  expected: string,
  label = 'warm',
): Promise<void> {
  await ws.cleanExpunge();
  const warm = await ws.build({ ...opts, targets: [...CACHED_TARGETS, LOCAL_CONSUMER] });
  opts.onBuild?.(label, warm);
  assertAllHits(warm, 1, opts.server, await diagnoseDownload(warm, opts));
  assert.equal(
    await consumerOutput(ws),
    expected,
    `${label}: the local consumer saw different bytes than in the cold build`,
  );
}

async function consumerOutput(ws: BazelWorkspace): Promise<string> {
  const h = await ws.hashOutputs(['local_consumer.txt']);
  const v = h.get('local_consumer.txt');
  assert.ok(v !== undefined, 'local_consumer.txt was not produced');
  return v;
}

/**
 * When Bazel rejected a download ("Expected digest ... does not match received digest"),
 * whether hoard still holds that blob intact, read back through hoard's client and
 * hashed here: a corrupt store and bytes spoiled in transit are different bugs.
 */
async function diagnoseDownload(build: BuildResult, opts: ScenarioOptions): Promise<string> {
  const m = /Expected digest '([0-9a-f]{64})\/(\d+)' does not match received digest/.exec(build.output);
  if (build.code === 0 || !m) return '';
  const blob = `${m[1]}/${m[2]}`;
  const instanceName = opts.flags.find((f) => f.startsWith('--remote_instance_name='))?.split('=')[1];
  const client = createClient(opts.remoteCache, { instanceName });
  try {
    const bytes = await client.getBytes({ hash: m[1]!, sizeBytes: Number(m[2]) });
    if (!bytes) return `hoard no longer has ${blob}`;
    const got = `${hashBytes(bytes)}/${bytes.byteLength}`;
    return got === blob
      ? `hoard re-read ${blob} after the failure and it verified: the store holds it intact`
      : `hoard re-read ${blob} after the failure as ${got}: the store holds wrong bytes`;
  } catch (err) {
    return `re-reading ${blob} from hoard failed too: ${(err as Error).message}`;
  } finally {
    await client.close();
  }
}

function explain(build: BuildResult, server: ServerLog, problem: string): string {
  return [
    problem,
    `--- bazel ${build.args.slice(2, 3).join(' ')} (exit ${build.code}, ${Math.round(build.durationMs)} ms), last lines:`,
    tail(build.output, 50),
    '--- hoard output, last lines:',
    tail(server.output(), 30),
  ].join('\n');
}

function assertCold(build: BuildResult, server: ServerLog): void {
  assert.equal(build.code, 0, explain(build, server, 'cold build failed'));
  const s = build.summary;
  assert.ok(s !== undefined, explain(build, server, 'cold build printed no process summary'));
  // Salted, so nothing can be in the cache yet: a hit here means the salt does not work.
  assert.equal(s.remoteCacheHits, 0, explain(build, server, 'cold build had remote cache hits (salt not effective?)'));
  assert.ok(s.executed > 0, explain(build, server, 'cold build executed nothing'));
}

/**
 * Every cacheable process was a remote cache hit: the summary says X = N − internal − local,
 * where `local` is exactly the number of no-remote actions built, and the execution log agrees
 * spawn by spawn (the only non-hit is the local consumer).
 */
function assertAllHits(build: BuildResult, local: number, server: ServerLog, diagnosis = ''): void {
  assert.equal(build.code, 0, explain(build, server, `warm build failed${diagnosis ? ` (${diagnosis})` : ''}`));
  const s = build.summary;
  assert.ok(s !== undefined, explain(build, server, 'warm build printed no process summary'));
  const counts = `${s.total} processes: ${[...s.byRunner].map(([k, v]) => `${v} ${k}`).join(', ')}`;
  assert.ok(s.remoteCacheHits > 0, explain(build, server, `no remote cache hits (${counts})`));
  assert.equal(
    s.remoteCacheHits,
    s.total - s.internal - local,
    explain(build, server, `not 100% remote cache hits (${counts})`),
  );
  assert.equal(s.executed, local, explain(build, server, `unexpected local executions (${counts})`));

  assert.ok(build.spawns.length > 0, explain(build, server, 'the execution log is empty'));
  const misses = build.spawns.filter((sp) => !sp.remoteCacheHit);
  const unexpected = misses.filter((sp) => sp.remoteCacheable || !LOCAL_CONSUMER_PROGRESS.test(sp.progressMessage));
  assert.deepEqual(
    unexpected.map((sp) => `${sp.mnemonic} ${sp.progressMessage} (${sp.runner})`),
    [],
    explain(build, server, 'spawns that were not remote cache hits'),
  );
  assert.equal(misses.length, local, explain(build, server, 'local consumer count in the execution log'));
}
