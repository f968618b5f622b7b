import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveRangeHeader } from './range-header.ts';

test('single ranges resolve against the size; bad or multiple ranges mean the whole entry', () => {
  assert.deepEqual(resolveRangeHeader(undefined, 10), { kind: 'full' });
  assert.deepEqual(resolveRangeHeader('bytes=3-', 10), { kind: 'partial', start: 3, end: 9 });
  assert.deepEqual(resolveRangeHeader('bytes=3-5', 10), { kind: 'partial', start: 3, end: 5 });
  assert.deepEqual(resolveRangeHeader('bytes=3-500', 10), { kind: 'partial', start: 3, end: 9 });
  assert.deepEqual(resolveRangeHeader('bytes=-4', 10), { kind: 'partial', start: 6, end: 9 });
  assert.deepEqual(resolveRangeHeader('bytes=-40', 10), { kind: 'partial', start: 0, end: 9 });
  assert.deepEqual(resolveRangeHeader('bytes=10-', 10), { kind: 'unsatisfiable' });
  assert.deepEqual(resolveRangeHeader('bytes=0-', 0), { kind: 'unsatisfiable' });
  assert.deepEqual(resolveRangeHeader('bytes=-0', 10), { kind: 'unsatisfiable' });
  assert.deepEqual(resolveRangeHeader('bytes=5-3', 10), { kind: 'full' });
  assert.deepEqual(resolveRangeHeader('bytes=0-1,4-5', 10), { kind: 'full' });
  assert.deepEqual(resolveRangeHeader('items=0-1', 10), { kind: 'full' });
  assert.deepEqual(resolveRangeHeader('bytes=-', 10), { kind: 'full' });
});
