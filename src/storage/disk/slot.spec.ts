import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acKey, casKey, rawKey } from '../../core/keys.ts';
import { slotOf } from './slot.ts';

test('slots keep keyspaces and namespaces apart', () => {
  const h = 'ab'.repeat(32);
  const slots = [slotOf(casKey(h)), slotOf(casKey(h, 'ns')), slotOf(acKey(h)), slotOf(rawKey(h)), slotOf(casKey('AB'.repeat(32)))];
  assert.equal(new Set(slots.map((s) => s.toString('hex'))).size, slots.length);
  assert.ok(slots.every((s) => s.length === 32));
  assert.equal(slots[0]!.toString('hex'), h, 'a default-namespace CAS slot is the digest itself');
});
