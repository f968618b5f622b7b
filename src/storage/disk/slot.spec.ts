import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acKey, casKey, rawKey } from '../../core/keys.ts';
import { lookupSlot, slotOf } from './slot.ts';

test('slots keep keyspaces and namespaces apart', () => {
  const h = 'ab'.repeat(32);
  const slots = [
    slotOf(casKey(h)),
    slotOf(casKey(h, 'ns')),
    slotOf(acKey(h)),
    slotOf(rawKey(h)),
    slotOf(casKey('AB'.repeat(32))),
  ];
  assert.equal(new Set(slots.map((s) => s.toString('hex'))).size, slots.length);
  assert.ok(slots.every((s) => s.length === 32));
  assert.equal(slots[0]!.toString('hex'), h, 'a default-namespace CAS slot is the digest itself');
});

test('a lookup slot equals the kept slot, in the scratch buffer only for digest slots', () => {
  const scratch = Buffer.alloc(32);
  for (const key of [
    casKey('0f'.repeat(32)),
    casKey('0f'.repeat(32), 'ns'),
    rawKey('k'),
    casKey('0g'.repeat(32)),
    casKey('e'.repeat(63)),
  ]) {
    const slot = lookupSlot(key, scratch);
    assert.deepEqual(slot, slotOf(key));
    assert.equal(slot === scratch, key.namespace === '' && /^[0-9a-f]{64}$/.test(key.id));
  }
});

test('hashed slots are an on-disk format: these values must never change', () => {
  // sha256("raw\0\0k") and sha256("cas\0ns\0" + 64 x "0f"): a change here makes every AC,
  // raw and namespaced entry of existing stores unreachable.
  assert.equal(slotOf(rawKey('k')).toString('hex'), '5bcdabfd5d2eda00bc2203cc6978c2b59ca7e4e0fa427ff53c571152d1407c15');
  assert.equal(
    slotOf(casKey('0f'.repeat(32), 'ns')).toString('hex'),
    'd3a75effc4b1b00acdabaf16f6f0a5534fef83747bb2ca13411a6643d5c247e1',
  );
});
