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
