// ac-round-trip's comparison: a cache that fills in execution_metadata (bazel-remote records
// the uploader in `worker`) is told apart from one that changes what a client reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protoType, REAPI } from '../core/proto.ts';
import { compareActionResults } from './conformance-checks.ts';

const t = protoType(`${REAPI}.ActionResult`);
const encode = (o: Record<string, unknown>): Uint8Array => t.encode(t.fromObject(o)).finish();
const file = { path: 'out/file', digest: { hash: 'ab'.repeat(32), sizeBytes: 10 } };

test('the same ActionResult passes', () => {
  const stored = encode({ outputFiles: [file], exitCode: 0 });
  assert.equal(compareActionResults(stored, stored).status, 'pass');
});

test('execution_metadata added by the server is information naming the field, not a failure', () => {
  const stored = encode({ outputFiles: [file], exitCode: 0 });
  const got = encode({ outputFiles: [file], exitCode: 0, executionMetadata: { worker: '127.0.0.1:5555' } });
  const outcome = compareActionResults(stored, got);
  assert.equal(outcome.status, 'info');
  assert.match(outcome.detail, /execution_metadata.*worker "127\.0\.0\.1:5555"/);
});

test('execution_metadata changed by the server is information too', () => {
  const stored = encode({ outputFiles: [file], executionMetadata: { worker: 'me' } });
  const got = encode({ outputFiles: [file], executionMetadata: { worker: 'cache' } });
  assert.equal(compareActionResults(stored, got).status, 'info');
});

test('any other difference fails, with or without metadata differences', () => {
  const stored = encode({ outputFiles: [file], exitCode: 0 });
  for (const got of [
    encode({ outputFiles: [file], exitCode: 1 }),
    encode({ outputFiles: [{ ...file, path: 'out/other' }], exitCode: 0, executionMetadata: { worker: 'w' } }),
    encode({ outputFiles: [], exitCode: 0 }),
  ]) {
    const outcome = compareActionResults(stored, got);
    assert.equal(outcome.status, 'fail');
    assert.equal(outcome.detail, 'hit, but the ActionResult differs');
  }
});

test('execution_metadata removed by the server names the removed field', () => {
  const stored = encode({ outputFiles: [file], executionMetadata: { worker: 'me', executor: 'x' } });
  const got = encode({ outputFiles: [file], executionMetadata: { executor: 'x' } });
  const outcome = compareActionResults(stored, got);
  assert.equal(outcome.status, 'info');
  assert.match(outcome.detail, /\(worker removed\)$/);
});

test('sizes past 2^53 that differ are a difference, not rounded away', () => {
  const big = (n: string): Uint8Array =>
    encode({ outputFiles: [{ ...file, digest: { hash: file.digest.hash, sizeBytes: n } }] });
  assert.equal(compareActionResults(big('9007199254740993'), big('9007199254740992')).status, 'fail');
});
