// Smoke check of the benchmark harness (bench/): each benchmark starts and finishes on a
// tiny configuration and yields its rows, and the Markdown puts every target of a section
// side by side. It measures nothing: figures from a run this small mean nothing, and speed
// is never asserted in tests (bench/RESULTS.md holds them).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GRPC_DEFAULTS, GRPC_OPTIONS, runGrpcBench, STORE_ALONE } from '../bench/grpc.ts';
import { renderSectionMarkdown } from '../bench/lib/markdown.ts';
import { newSection, ratioGoal } from '../bench/lib/section.ts';
import { DISCARDING, hoardCheckout, VERIFYING } from '../bench/lib/targets.ts';
import { HTTP_DEFAULTS, HTTP_OPTIONS, runHttpBench } from '../bench/http.ts';
import { SCALING_OPTIONS } from '../bench/scaling.ts';
import { runSecuredBench, SECURED_DEFAULTS, SECURED_OPTIONS } from '../bench/secured.ts';
import { runStoreBench, STORE_DEFAULTS, STORE_OPTIONS } from '../bench/store-scale.ts';
import { runTurborepoBench, TURBOREPO_DEFAULTS, TURBOREPO_OPTIONS } from '../bench/turborepo.ts';
import { REPO_ROOT, runNode } from './helpers/spawn-server.ts';

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

test('bench secured measures hoard plain, with TLS + token and with TLS + Basic, each secured one refusing calls without credentials first', async () => {
  const s = await runSecuredBench({ ...SECURED_DEFAULTS, seconds: 1, getBlobs: 20, bsCount: 20 }, quiet);
  assert.ok(!s.notes.some((n) => /: NOT MEASURED: /.test(n)), s.notes.join('\n'));
  for (const target of ['hoard', 'hoard (TLS + token)', 'hoard (TLS + Basic)']) {
    const rows = s.rows.filter((r) => r.target === target);
    assert.ok(rows.length >= 1, `${target}: no rows (${s.notes.join('; ')})`);
    for (const r of rows) assert.equal(r.warning, undefined, `${target} ${r.workload}: ${r.warning}`);
  }
});

test('bench turborepo measures hoard and turborepo-remote-cache side by side on a tiny configuration', async () => {
  const s = await runTurborepoBench(
    {
      ...TURBOREPO_DEFAULTS,
      seconds: 1,
      getBlobs: 20,
      artifactSize: 256 * 1024,
      artifactCount: 2,
      rounds: 1,
      rssSize: 4 * 2 ** 20,
    },
    quiet,
  );
  for (const target of ['hoard', 'turborepo-remote-cache']) {
    const rows = s.rows.filter((r) => r.target === target);
    // Without wrk only the large PUTs and the RSS upload are measured.
    assert.ok(rows.length >= 2, `${target}: no rows (${s.notes.join('; ')})`);
    for (const r of rows) assert.equal(r.warning, undefined, `${target} ${r.workload}: ${r.warning}`);
  }
  assert.ok(
    s.goals.some((g) => g.text.startsWith('RSS growth') && g.met !== undefined),
    JSON.stringify(s.goals),
  );
});

test('bench grpc runs against hoard and a baseline checkout on a tiny configuration', async () => {
  // This checkout stands in for an earlier one: the baseline path (its own main.ts, named
  // by its commit) is what runs.
  const baseline = hoardCheckout(REPO_ROOT);
  const s = await runGrpcBench(
    { ...GRPC_DEFAULTS, fmbCalls: 5, batchCalls: 2, batchBlobs: 10, bsCount: 20, hoardBaseline: baseline },
    quiet,
  );
  for (const name of ['hoard', `hoard@${baseline.commit}`]) {
    const rows = s.rows.filter((r) => r.target === name);
    assert.equal(rows.length, 4, `${name}: ${JSON.stringify(s.notes)}`);
    for (const r of rows) assert.equal(r.warning, undefined, `${name} ${r.workload}: ${r.warning}`);
  }
  // No bazel-remote in this run: its goals say so instead of judging against anything else.
  const peerGoals = s.goals.filter((g) => g.text.includes('bazel-remote'));
  assert.equal(peerGoals.length, 2, JSON.stringify(s.goals));
  for (const g of peerGoals) {
    assert.equal(g.met, undefined);
    assert.match(g.text, /not judged: bazel-remote was not run/);
  }
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

test('the Markdown of a section is one table: workloads as rows, targets side by side, then hoard / each peer', () => {
  const s = newSection('HTTP');
  const cpu = { wallSeconds: 1, server: 0.61, generator: 0.12, other: 0.09 };
  s.rows.push(
    { workload: 'GET', target: 'hoard', value: 2000, unit: 'req/s', cpu, detail: 'p95 1 ms' },
    { workload: 'PUT', target: 'hoard', value: 300, unit: 'req/s', cpu },
    { workload: 'GET', target: 'nginx', value: 4000, unit: 'req/s', cpu },
    { workload: 'GET', target: 'bazel-remote', value: 1000, unit: 'req/s', cpu },
    { workload: 'PUT', target: 'bazel-remote', value: 100, unit: 'req/s', cpu, warning: '3 errors' },
    { workload: 'GET', target: 'hoard@abc1234', value: 1600, unit: 'req/s', cpu },
    { workload: 'PUT', target: DISCARDING, value: 900, unit: 'req/s' },
  );
  ratioGoal(s, 'GET', 'bazel-remote', 1);
  ratioGoal(s, 'PUT', 'bazel-remote', 5);
  const md = renderSectionMarkdown(s, {
    date: '2026-01-01T00:00:00Z',
    command: './node_modules/.bin/node bench/run.ts --only http',
    revision: 'abcdef0',
    machine: '2 cores',
    loadBefore: '0.10 0.20 0.30',
    loadAfter: '0.40 0.50 0.60',
  });
  const tableLines = md.split('\n').filter((l) => l.startsWith('|'));
  assert.equal(tableLines.length, 4, md); // header, rule, GET, PUT
  assert.equal(
    tableLines[0],
    `| workload | hoard | hoard@abc1234 | bazel-remote | nginx | ${DISCARDING} | hoard / hoard@abc1234 | hoard / bazel-remote | hoard / nginx |`,
  );
  assert.equal(
    tableLines[2],
    '| GET | 2,000 req/s<br><sub>gen 12 · srv 61 · oth 9 %</sub> | 1,600 req/s<br><sub>gen 12 · srv 61 · oth 9 %</sub> | ' +
      '1,000 req/s<br><sub>gen 12 · srv 61 · oth 9 %</sub> | 4,000 req/s<br><sub>gen 12 · srv 61 · oth 9 %</sub> | — | 1.25× | 2.00× | 0.50× |',
  );
  // A target not measured for a workload is a dash; an unclean figure is flagged, and so is its ratio.
  assert.match(
    tableLines[3] ?? '',
    /^\| PUT \| 300 req\/s<br>.* \| — \| 100 req\/s ⚠<br>.* \| — \| 900 req\/s \| {2}\| 3\.00× ⚠ \| {2}\|$/,
  );
  assert.ok(md.indexOf('`./node_modules/.bin/node bench/run.ts --only http`') < md.indexOf('| workload'), md);
  assert.match(
    md,
    /code abcdef0\. Machine: 2 cores\. Load average \(1, 5, 15 min\) before 0\.10 0\.20 0\.30, after 0\.40 0\.50 0\.60/,
  );
  assert.match(md, /✅ met: GET: hoard 2,000 req\/s vs bazel-remote 1,000 → 2\.00×/);
  assert.match(md, /❔ not judged: PUT: .*not judged: a run was not clean/);
  assert.match(md, /- ⚠ PUT · bazel-remote: 3 errors/);
  assert.match(md, /- GET · hoard: p95 1 ms/);
});

test('every bench script prints its usage for --help, naming every option it takes, and refuses a bad option in one line', async () => {
  const scripts: [string, Record<string, unknown>, string[][]][] = [
    [
      'bench/run.ts',
      {
        ...STORE_OPTIONS,
        ...HTTP_OPTIONS,
        ...GRPC_OPTIONS,
        ...SECURED_OPTIONS,
        ...TURBOREPO_OPTIONS,
        only: {},
        json: {},
        md: {},
      },
      [['--only', 'store,nope']],
    ],
    [
      'bench/grpc.ts',
      GRPC_OPTIONS,
      [
        ['--bs-count', '-3'],
        ['--hoard-baseline', '/nonexistent/hoard'],
        ['--workers', '0'],
      ],
    ],
    [
      'bench/http.ts',
      HTTP_OPTIONS,
      [
        ['--large-size', 'lots'],
        ['--workers', '0'],
      ],
    ],
    ['bench/store-scale.ts', STORE_OPTIONS, [['--parts', 'index,nope']]],
    ['bench/secured.ts', SECURED_OPTIONS, [['--bs-count', '0']]],
    [
      'bench/turborepo.ts',
      TURBOREPO_OPTIONS,
      [
        ['--artifact-size', 'lots'],
        ['--rounds', '0'],
      ],
    ],
    [
      'bench/scaling.ts',
      SCALING_OPTIONS,
      [
        ['--only', 'get,nope'],
        ['--max-workers', '0'],
      ],
    ],
  ];
  for (const [script, options, badValues] of scripts) {
    const help = await runNode([script, '--help']);
    assert.equal(help.code, 0, `${script} --help: ${help.stderr}`);
    assert.match(help.stdout, /^Usage: /, script);
    for (const name of Object.keys(options))
      assert.match(help.stdout, new RegExp(`--${name}\\b`), `${script} --help names --${name}`);

    for (const bad of [['--no-such-option'], ...badValues]) {
      const r = await runNode([script, ...bad]);
      const what = `${script} ${bad.join(' ')}`;
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.equal(r.stdout, '', `${what} runs nothing`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
      assert.ok(r.stderr.includes(bad[0]!), `${what}: the message names the option: ${r.stderr}`);
    }
  }
});
