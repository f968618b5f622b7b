// Smoke check of the benchmark harness (bench/): each benchmark starts and finishes on a
// tiny configuration and yields its rows. It measures nothing: figures from a run this
// small mean nothing, and speed is never asserted in tests (bench/RESULTS.md holds them).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GRPC_DEFAULTS, GRPC_OPTIONS, runGrpcBench, STORE_ALONE } from '../bench/grpc.ts';
import { DISCARDING, VERIFYING } from '../bench/lib/targets.ts';
import { HTTP_DEFAULTS, HTTP_OPTIONS, runHttpBench } from '../bench/http.ts';
import { runStoreBench, STORE_DEFAULTS, STORE_OPTIONS } from '../bench/store-scale.ts';
import { runNode } from './helpers/spawn-server.ts';

const quiet = () => undefined;

test('bench store-scale runs on a tiny configuration', async () => {
  const s = await runStoreBench(
    { ...STORE_DEFAULTS, blobs: 300, smallCount: 200, largeSize: 256 * 1024, largeCount: 1 },
    quiet,
  );
  const open = s.rows.find((r) => r.workload.startsWith('open + first read'));
  assert.ok(open, 'an open row');
  assert.equal(open.warning, undefined, 'the reopened store serves the probe with every entry');
  assert.ok(s.rows.some((r) => r.target === 'sha256 (1 core)'));
  assert.equal(s.goals.length, 4);
});

test('bench http runs against hoard on a tiny configuration', async () => {
  // wrk runs whole seconds: one second each keeps its whole path (prefill, Lua, parsing)
  // covered. Without wrk installed only the large-blob rows exist.
  const s = await runHttpBench(
    { ...HTTP_DEFAULTS, seconds: 1, getBlobs: 20, largeSize: 256 * 1024, largeCount: 2, nginx: false },
    quiet,
  );
  const hoard = s.rows.filter((r) => r.target === 'hoard');
  assert.ok(hoard.length >= 2, `hoard rows: ${JSON.stringify(s.notes)}`);
  for (const r of hoard) assert.equal(r.warning, undefined, `${r.workload}: ${r.warning}`);
});

test('bench grpc runs against hoard on a tiny configuration', async () => {
  const s = await runGrpcBench({ ...GRPC_DEFAULTS, fmbCalls: 5, batchCalls: 2, batchBlobs: 10, bsCount: 20 }, quiet);
  const hoard = s.rows.filter((r) => r.target === 'hoard');
  assert.equal(hoard.length, 4, JSON.stringify(s.notes));
  for (const r of hoard) assert.equal(r.warning, undefined, `${r.workload}: ${r.warning}`);
  // The Write ceiling: the same uploads against a server whose store keeps nothing.
  // Twice: nothing hashed, then every upload's sha256 verified (a failed check would warn).
  for (const name of [DISCARDING, VERIFYING]) {
    const ceiling = s.rows.filter((r) => r.target === name);
    assert.deepEqual(
      ceiling.map((r) => [r.unit, r.warning]),
      [['writes/s', undefined]],
      `${name}: ${JSON.stringify(s.notes)}`,
    );
  }
  // And the store's part: the same blobs put in-process, every one created.
  const store = s.rows.filter((r) => r.target === STORE_ALONE);
  assert.deepEqual(
    store.map((r) => [r.unit, r.warning]),
    [['writes/s', undefined]],
    JSON.stringify(s.notes),
  );
  assert.ok(
    s.notes.some((n) => n.startsWith('Write in parts: ')),
    JSON.stringify(s.notes),
  );
  // And what a Write costs the machine in CPU, beside what the goal allows.
  assert.ok(
    s.notes.some((n) =>
      /^CPU per Write .*: hoard \d+\.\d\d ms, .* needs ≤ \d+\.\d\d ms\. The verifying ceiling/.test(n),
    ),
    JSON.stringify(s.notes),
  );
});

test('every bench script prints its usage for --help, naming every option it takes, and refuses a bad option in one line', async () => {
  const scripts: [string, Record<string, unknown>, string[]][] = [
    [
      'bench/run.ts',
      { ...STORE_OPTIONS, ...HTTP_OPTIONS, ...GRPC_OPTIONS, only: {}, json: {}, md: {} },
      ['--only', 'store,nope'],
    ],
    ['bench/grpc.ts', GRPC_OPTIONS, ['--bs-count', '-3']],
    ['bench/http.ts', HTTP_OPTIONS, ['--large-size', 'lots']],
    ['bench/store-scale.ts', STORE_OPTIONS, ['--parts', 'index,nope']],
  ];
  for (const [script, options, badValue] of scripts) {
    const help = await runNode([script, '--help']);
    assert.equal(help.code, 0, `${script} --help: ${help.stderr}`);
    assert.match(help.stdout, /^Usage: /, script);
    for (const name of Object.keys(options))
      assert.match(help.stdout, new RegExp(`--${name}\\b`), `${script} --help names --${name}`);

    for (const bad of [['--no-such-option'], badValue]) {
      const r = await runNode([script, ...bad]);
      const what = `${script} ${bad.join(' ')}`;
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.equal(r.stdout, '', `${what} runs nothing`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
      assert.ok(r.stderr.includes(bad[0]!), `${what}: the message names the option: ${r.stderr}`);
    }
  }
});
