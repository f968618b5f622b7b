import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from './buffer-pool.ts';

test('a released buffer is reused for the next acquire of its capacity class', () => {
  const pool = new BufferPool(1 << 20);
  const a = pool.acquire(100_000);
  assert.equal(a.length, 100_000);
  pool.release(a);
  assert.equal(pool.idleBytes, 131_072);
  const b = pool.acquire(120_000);
  assert.equal(b.buffer, a.buffer, 'same memory, capacity 128 KiB');
  assert.equal(b.length, 120_000);
  assert.equal(pool.idleBytes, 0);
  assert.notEqual(pool.acquire(100_000).buffer, a.buffer, 'in use: never handed out twice');
});

test('foreign buffers and repeated releases are ignored; idle memory is bounded', () => {
  const pool = new BufferPool(200_000);
  pool.release(Buffer.alloc(131_072));
  assert.equal(pool.idleBytes, 0);
  const a = pool.acquire(131_072);
  pool.release(a);
  pool.release(a);
  assert.equal(pool.idleBytes, 131_072);
  const x = pool.acquire(131_072);
  const y = pool.acquire(131_072);
  assert.notEqual(x.buffer, y.buffer);
  pool.release(x);
  pool.release(y); // over the 200,000-byte bound: dropped
  assert.equal(pool.idleBytes, 131_072);
});
