import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acKey, casKey } from '../../core/keys.ts';
import { ExistenceCache } from './existence-cache.ts';

const blob = casKey('a'.repeat(64), 'main');

test('a CAS blob seen present is known, with its size, until the time to live passes', async () => {
  const cache = new ExistenceCache(40);
  assert.equal(cache.size(blob), undefined);
  cache.present(blob, 123);
  assert.equal(cache.size(blob), 123);
  assert.equal(cache.size(casKey('a'.repeat(64))), undefined, 'another namespace is another blob');
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(cache.size(blob), undefined);
});

test('only CAS blobs are remembered: an AC value may be replaced or deleted elsewhere', () => {
  const cache = new ExistenceCache();
  cache.present(acKey('b'.repeat(64)), 10);
  assert.equal(cache.size(acKey('b'.repeat(64))), undefined);
});

test('a deleted blob is forgotten', () => {
  const cache = new ExistenceCache();
  cache.present(blob, 1);
  cache.forget(blob);
  assert.equal(cache.size(blob), undefined);
});
