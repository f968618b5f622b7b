// The parsers the end-to-end assertions rest on: if they misread Bazel's output, a broken cache
// could pass as 100% hits, so they get their own fast tests (no Bazel needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExecutionLog, parseProcessSummary } from './build-summary.ts';

test('process summary: all remote cache hits', () => {
  const out = [
    'INFO: Analyzed 2 targets (16 packages loaded, 91 targets configured).',
    'INFO: Elapsed time: 4.678s, Critical Path: 0.30s',
    'INFO: 18 processes: 14 remote cache hit, 4 internal.',
    'INFO: Build completed successfully, 18 total actions',
  ].join('\n');
  const s = parseProcessSummary(out);
  assert.equal(s.total, 18);
  assert.equal(s.remoteCacheHits, 14);
  assert.equal(s.internal, 4);
  assert.equal(s.executed, 0);
});

test('process summary: cold build executes locally; the last summary line wins', () => {
  const out = ['INFO: 1 process: 1 internal.', 'INFO: 20 processes: 5 internal, 14 linux-sandbox, 1 local.'].join('\n');
  const s = parseProcessSummary(out);
  assert.equal(s.total, 20);
  assert.equal(s.remoteCacheHits, 0);
  assert.equal(s.executed, 15);
  assert.equal(s.byRunner.get('linux-sandbox'), 14);
});

test('process summary: a partial hit is not mistaken for a full one', () => {
  const s = parseProcessSummary('INFO: 18 processes: 9 remote cache hit, 4 internal, 5 linux-sandbox.');
  assert.equal(s.remoteCacheHits, 9);
  assert.equal(s.executed, 5);
});

test('process summary: missing or inconsistent lines are errors, not zeros', () => {
  assert.throws(() => parseProcessSummary('FAILED: Build did NOT complete successfully'), /no "INFO: N processes/);
  assert.throws(() => parseProcessSummary('INFO: 18 processes: 9 remote cache hit, 4 internal.'), /does not add up/);
  assert.equal(parseProcessSummary('INFO: 0 processes.').total, 0);
});

test('execution log: concatenated pretty-printed objects, braces inside strings', () => {
  const log = [
    '{\n  "commandArgs": ["/bin/bash", "-c", "echo \\"{\\" > x; echo }"],\n  "listedOutputs": ["bazel-out/k8-fastbuild/bin/x"],',
    '  "runner": "remote cache hit",\n  "remoteCacheHit": true,\n  "exitCode": 0,\n  "remoteCacheable": true,',
    '  "mnemonic": "Genrule",\n  "progressMessage": "Executing genrule //:x",\n  "actualOutputs": []\n}{',
    '  "runner": "linux-sandbox",\n  "remoteCacheable": false,\n  "mnemonic": "Genrule",',
    '  "actualOutputs": [{"path": "bazel-out/y", "digest": {"hash": "ab", "sizeBytes": "2"}}]\n}',
  ].join('\n');
  const spawns = parseExecutionLog(log);
  assert.equal(spawns.length, 2);
  assert.deepEqual(
    spawns.map((s) => [s.remoteCacheHit, s.remoteCacheable, s.runner]),
    [
      [true, true, 'remote cache hit'],
      [false, false, 'linux-sandbox'],
    ],
  );
  assert.equal(spawns[0]?.progressMessage, 'Executing genrule //:x');
  assert.deepEqual(spawns[1]?.outputs, [{ path: 'bazel-out/y', hash: 'ab' }]);
  assert.throws(() => parseExecutionLog('{"runner": "x"'), /truncated/);
});
