import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acKey, casKey, rawKey } from '../../core/keys.ts';
import { lookupSlot, slotOf } from './slot.ts';

test('slots keep keyspaces and namespaces apart', () => {
  const h = 'ab'.repeat(32);
  const slots = [slotOf(casKey(h)), slotOf(casKey(h, 'ns')), slotOf(acKey(h)), slotOf(rawKey(h)), slotOf(casKey('AB'.repeat(32)))];
  assert.equal(new Set(slots.map((s) => s.toString('hex'))).size, slots.length);
  assert.ok(slots.every((s) => s.length === 32));
  assert.equal(slots[0]!.toString('hex'), h, 'a default-namespace CAS slot is the digest itself');
});

test('a lookup slot equals the kept slot, in the scratch buffer only for digest slots', () => {
  const scratch = Buffer.alloc(32);
  for (const key of [casKey('0f'.repeat(32)), casKey('0f'.repeat(32), 'ns'), rawKey('k'), casKey('0g'.repeat(32)), casKey('e'.repeat(63))]) {
    const slot = lookupSlot(key, scratch);
    assert.deepEqual(slot, slotOf(key));
    assert.equal(slot === scratch, key.namespace === '' && /^[0-9a-f]{64}$/.test(key.id));
  }
});
