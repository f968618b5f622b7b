import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadCache } from './read-cache.ts';

test('read cache: bounded by bytes, least recently used out first, copies views, skips big entries', () => {
  const c = new ReadCache(10, 4);
  c.set('a', Buffer.from('aaaa'));
  c.set('b', Buffer.from('bbbb'));
  assert.equal(c.get('a')?.toString(), 'aaaa'); // a is now the most recent
  c.set('c', Buffer.from('cc'));
  c.set('d', Buffer.from('dd')); // 12 bytes > 10: b goes
  assert.equal(c.get('b'), undefined);
  assert.equal(c.get('a')?.toString(), 'aaaa');
  assert.ok(c.bytes <= 10);
  c.set('big', Buffer.from('too big'));
  assert.equal(c.get('big'), undefined);
  const backing = Buffer.from('xyzxyzxyz');
  c.set('view', backing.subarray(0, 3));
  assert.equal(c.get('view')!.buffer.byteLength, 3, 'a view is copied so the cache does not pin its backing buffer');
  c.delete('view');
  assert.equal(c.get('view'), undefined);
});

test('read cache: a value too big to keep still drops the old value of its slot', () => {
  const c = new ReadCache(100, 10);
  c.set('s', Buffer.from('small'));
  c.set('s', Buffer.alloc(11));
  assert.equal(c.get('s'), undefined, 'the stale small value is not served for the new one');
  assert.equal(c.bytes, 0);
});

test('read cache: far past capacity, with hits and deletes in between, it matches a plain LRU model', () => {
  // The eviction cursor is kept across calls; re-inserted (hit) keys must come out last.
  const max = 1_000;
  const c = new ReadCache(max, 40);
  const model: { key: string; size: number }[] = []; // oldest first
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
  for (let i = 0; i < 50_000; i++) {
    const key = `k${rand(300)}`;
    const at = model.findIndex((e) => e.key === key);
    const op = rand(10);
    if (op < 5) {
      const size = 1 + rand(40);
      c.set(key, Buffer.alloc(size, i % 256));
      if (at >= 0) model.splice(at, 1);
      model.push({ key, size });
      let bytes = model.reduce((n, e) => n + e.size, 0);
      while (bytes > max) bytes -= model.shift()!.size;
    } else if (op < 9) {
      assert.equal(c.get(key)?.length, at >= 0 ? model[at]!.size : undefined, `get ${key} at op ${i}`);
      if (at >= 0) model.push(...model.splice(at, 1));
    } else {
      c.delete(key);
      if (at >= 0) model.splice(at, 1);
    }
    assert.equal(
      c.bytes,
      model.reduce((n, e) => n + e.size, 0),
      `bytes at op ${i}`,
    );
    assert.ok(c.bytes <= max);
  }
  for (const e of [...model]) assert.equal(c.get(e.key)?.length, e.size, `${e.key} kept`);
});
