import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EntryIndex } from './entry-index.ts';

const slot = (n: number): Buffer => createHash('sha256').update(String(n)).digest();

describe('EntryIndex', () => {
  it('finds, replaces and removes entries across growth', () => {
    const idx = new EntryIndex(16);
    for (let i = 0; i < 5000; i++) idx.set(slot(i), i, i * 10, i + 1);
    assert.equal(idx.size, 5000);
    for (let i = 0; i < 5000; i += 7) {
      const id = idx.find(slot(i));
      assert.ok(id >= 0);
      assert.equal(idx.offset(id), i * 10);
      assert.deepEqual(idx.slot(id), slot(i));
    }
    for (let i = 0; i < 5000; i += 2) idx.remove(idx.find(slot(i)));
    assert.equal(idx.size, 2500);
    for (let i = 0; i < 5000; i++) assert.equal(idx.find(slot(i)) >= 0, i % 2 === 1, `entry ${i}`);
  });

  it('hands out slots that stay intact after their entry is removed and its id reused', () => {
    const idx = new EntryIndex(16);
    const id = idx.set(slot(1), 0, 0, 1);
    const kept = idx.slot(id);
    idx.remove(id);
    assert.equal(idx.set(slot(2), 0, 0, 1), id, 'the freed id is reused');
    assert.deepEqual(kept, slot(1));
  });

  it('keeps LRU order: set and touch move an entry to the most recent end', () => {
    const idx = new EntryIndex();
    for (let i = 0; i < 4; i++) idx.set(slot(i), 0, 0, 1);
    idx.touch(idx.find(slot(1)));
    idx.set(slot(0), 0, 0, 2);
    const order = [...idx.lruOrder()].map((id) => idx.slot(id).toString('hex'));
    assert.deepEqual(
      order,
      [2, 3, 1, 0].map((i) => slot(i).toString('hex')),
    );
  });

  it('behaves like a Map under random operations (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('set', 'remove', 'touch'), fc.integer({ min: 0, max: 60 })), {
          maxLength: 400,
        }),
        (ops) => {
          const idx = new EntryIndex(16);
          const model = new Map<number, number>();
          let stamp = 0;
          for (const [op, k] of ops) {
            const id = idx.find(slot(k));
            if (op === 'set') {
              idx.set(slot(k), 1, ++stamp, 1);
              model.delete(k);
              model.set(k, stamp);
            } else if (op === 'remove' && id >= 0) {
              idx.remove(id);
              model.delete(k);
            } else if (op === 'touch' && id >= 0) {
              idx.touch(id);
              const v = model.get(k)!;
              model.delete(k);
              model.set(k, v);
            }
          }
          assert.equal(idx.size, model.size);
          const order = [...idx.lruOrder()].map((id) => idx.offset(id));
          assert.deepEqual(order, [...model.values()]);
          for (let k = 0; k <= 60; k++) assert.equal(idx.find(slot(k)) >= 0, model.has(k));
        },
      ),
      { numRuns: 300 },
    );
  });
});
