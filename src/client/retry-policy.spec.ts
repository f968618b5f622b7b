import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientError, tlsRefusal } from './client-error.ts';
import { backoffDelay, isTransient, OPERATIONS, safetyOf, withRetry } from './retry-policy.ts';

const server = 'http://127.0.0.1:1';
const dropped = (): ClientError => new ClientError('dropped', { server, kind: 'dropped' });

test('retry registry: reads, CAS writes and AC updates are safe; unknown and deletes are unsafe', () => {
  for (const op of ['cas.get', 'ac.get', 'findMissing', 'has', 'capabilities', 'cas.put', 'bytestream.write', 'ac.put'])
    assert.equal(safetyOf(op), 'safe', op);
  assert.equal(safetyOf('cas.delete'), 'unsafe');
  assert.equal(safetyOf('something.new'), 'unsafe');
  assert.equal(safetyOf('toString'), 'unsafe', 'prototype keys are not registrations');
  for (const entry of Object.values(OPERATIONS)) assert.ok(entry.reason.length > 0);
});

test('retry classification follows docs/PROTOCOLS.md §1.5 and §2.8.2', () => {
  for (const s of [500, 502, 503, 504])
    assert.ok(isTransient(new ClientError('x', { server, kind: 'status', httpStatus: s })), String(s));
  for (const s of [400, 401, 403, 404, 413, 501])
    assert.ok(!isTransient(new ClientError('x', { server, kind: 'status', httpStatus: s })), String(s));
  for (const c of [2, 4, 8, 10, 13, 14])
    assert.ok(isTransient(new ClientError('x', { server, kind: 'status', grpcCode: c })), String(c));
  for (const c of [3, 5, 6, 7, 9, 11, 12, 15, 16])
    assert.ok(!isTransient(new ClientError('x', { server, kind: 'status', grpcCode: c })), String(c));
  assert.ok(isTransient(dropped()));
  assert.ok(!isTransient(new ClientError('refused', { server, kind: 'connect' })));
  assert.ok(!isTransient(tlsRefusal(server, 'tlsv13 alert certificate required', undefined)), 'an mTLS refusal');
  assert.ok(!isTransient(new Error('plain')));
});

test('withRetry: an unknown operation is tried once; a safe one is retried and bounded', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry({ operation: 'custom.append', server }, async () => {
      calls++;
      throw dropped();
    }),
  );
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(
    withRetry({ operation: 'cas.get', server, retry: { retries: 3, baseDelayMs: 1 } }, async () => {
      calls++;
      throw dropped();
    }),
    /gave up after 4 attempts/,
  );
  assert.equal(calls, 4);
});

test('withRetry: a failed reconnect stops at once with a message naming the server', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry({ operation: 'cas.get', server }, async (n) => {
      calls++;
      throw n === 0
        ? dropped()
        : new ClientError(`cannot connect to ${server}: connection refused`, { server, kind: 'connect' });
    }),
    /reconnecting after "dropped" failed: cannot connect to http:\/\/127\.0\.0\.1:1/,
  );
  assert.equal(calls, 2);
});

test('backoff doubles from 100 ms, capped at 5 s, with ±10% jitter', () => {
  for (let i = 0; i < 50; i++) {
    const d0 = backoffDelay(0);
    const d3 = backoffDelay(3);
    const d9 = backoffDelay(9);
    assert.ok(d0 >= 90 && d0 <= 110, String(d0));
    assert.ok(d3 >= 720 && d3 <= 880, String(d3));
    assert.ok(d9 >= 4500 && d9 <= 5500, String(d9));
  }
});
