import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ActivityRecorder,
  displayPath,
  MAX_NAMESPACES,
  OTHER_NAMESPACES,
  SLOWEST_KEPT,
  SLOWEST_WINDOW_MS,
  sumActivity,
  type SlowRequest,
} from './activity.ts';

const slow = (seconds: number, at = Date.now(), path = `/cas/${seconds}`): SlowRequest => ({
  at,
  protocol: 'bazel-http',
  method: 'GET',
  path,
  namespace: '',
  status: 200,
  seconds,
  bytes: 1,
});

test('lookups add up in all, per protocol and per namespace', () => {
  const a = new ActivityRecorder();
  a.lookup('nx', 'main', true);
  a.lookup('nx', 'main', false);
  a.lookup('gradle', '', false);
  assert.deepEqual(a.snapshot().lookups, {
    hits: 1,
    misses: 2,
    protocols: { nx: { hits: 1, misses: 1 }, gradle: { hits: 0, misses: 1 } },
    namespaces: { main: { hits: 1, misses: 1 }, '': { hits: 0, misses: 1 } },
  });
});

test('namespaces past the bound are counted together, so the record stays bounded', () => {
  const a = new ActivityRecorder();
  for (let i = 0; i < MAX_NAMESPACES + 50; i++) a.lookup('turborepo', `team-${i}`, i % 2 === 0);
  a.lookup('turborepo', 'team-0', true);
  const { namespaces } = a.snapshot().lookups;
  assert.equal(Object.keys(namespaces).length, MAX_NAMESPACES + 1);
  assert.deepEqual(namespaces['team-0'], { hits: 2, misses: 0 });
  assert.deepEqual(namespaces[OTHER_NAMESPACES], { hits: 25, misses: 25 });
});

test('operator endpoints count neither as requests nor among the slowest', () => {
  const a = new ActivityRecorder();
  a.request('admin');
  a.request('bazel-http');
  a.finished('admin', 9, () => ({ ...slow(9), protocol: 'admin' }));
  const s = a.snapshot();
  assert.equal(s.requests, 1);
  assert.deepEqual(s.slowest, []);
});

test('the slowest requests are the slowest of the last hour, at most a handful', () => {
  const a = new ActivityRecorder();
  let described = 0;
  for (let i = 1; i <= 30; i++) {
    a.finished('bazel-http', i / 100, () => {
      described++;
      return slow(i / 100);
    });
  }
  // A fast request while the list is full of slower ones is not even described.
  const before = described;
  a.finished('bazel-http', 0.001, () => {
    described++;
    return slow(0.001);
  });
  assert.equal(described, before);
  const kept = a.snapshot().slowest;
  assert.equal(kept.length, SLOWEST_KEPT);
  assert.deepEqual(
    kept.map((r) => r.seconds),
    [0.3, 0.29, 0.28, 0.27, 0.26, 0.25, 0.24, 0.23, 0.22, 0.21],
  );
});

test('a slow request older than the window makes room and is no longer listed', () => {
  const a = new ActivityRecorder();
  const old = Date.now() - SLOWEST_WINDOW_MS - 1000;
  for (let i = 0; i < SLOWEST_KEPT; i++) a.finished('nx', 5, () => slow(5, i === 0 ? old : Date.now()));
  a.finished('nx', 0.5, () => slow(0.5));
  const kept = a.snapshot().slowest;
  assert.equal(kept.length, SLOWEST_KEPT);
  assert.ok(kept.every((r) => r.at > old));
  assert.equal(kept.at(-1)!.seconds, 0.5);
});

test("several threads' records sum: counts add, errors merge by cause, the slowest of all", () => {
  const a = new ActivityRecorder();
  const b = new ActivityRecorder();
  a.lookup('nx', 'x', true);
  b.lookup('nx', 'x', false);
  b.lookup('gradle', 'y', false);
  a.request('nx');
  b.request('nx');
  a.bytesReceived(10);
  b.bytesSent(20);
  a.error('nx', 'unauthenticated');
  b.error('nx', 'unauthenticated');
  b.error('gradle', 'internal');
  a.finished('nx', 1, () => slow(1));
  b.finished('nx', 2, () => slow(2));
  const sum = sumActivity([a.snapshot(), b.snapshot()]);
  assert.deepEqual(sum.lookups, {
    hits: 1,
    misses: 2,
    protocols: { nx: { hits: 1, misses: 1 }, gradle: { hits: 0, misses: 1 } },
    namespaces: { x: { hits: 1, misses: 1 }, y: { hits: 0, misses: 1 } },
  });
  assert.equal(sum.requests, 2);
  assert.equal(sum.bytesReceived, 10);
  assert.equal(sum.bytesSent, 20);
  assert.deepEqual(sum.errors, [
    { protocol: 'nx', cause: 'unauthenticated', count: 2 },
    { protocol: 'gradle', cause: 'internal', count: 1 },
  ]);
  assert.deepEqual(
    sum.slowest.map((r) => r.seconds),
    [2, 1],
  );
});

test('a listed path has no query (it may carry a token) and a bounded length', () => {
  assert.equal(displayPath('/v8/artifacts/abc?teamId=t&token=secret'), '/v8/artifacts/abc');
  const long = displayPath(`/${'a'.repeat(500)}`);
  assert.equal(long.length, 200);
  assert.ok(long.endsWith('…'));
});
