import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EntryIndex } from './entry-index.ts';
import { NamespaceTable } from './namespace-table.ts';

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

describe('EntryIndex namespaces', () => {
  it('counts bytes and entries per namespace across replace and remove, and frees an emptied id', () => {
    const table = new NamespaceTable();
    const idx = new EntryIndex(16, { namespaces: table });
    const a = table.idOf('a');
    idx.set(slot(1), 0, 0, 10, a);
    idx.set(slot(2), 0, 0, 20, a);
    idx.set(slot(3), 0, 0, 5); // the default namespace
    idx.set(slot(2), 0, 0, 25, a); // replaced: counted once, at its new size
    assert.deepEqual(table.list(), [
      { namespace: 'a', bytes: 35, entries: 2 },
      { namespace: '', bytes: 5, entries: 1 },
    ]);
    idx.remove(idx.find(slot(1)));
    idx.remove(idx.find(slot(2)));
    assert.equal(table.find('a'), -1, "an emptied namespace's id is freed");
    assert.equal(table.idOf('b'), a, 'and handed to the next namespace');
    assert.deepEqual(table.list(), [{ namespace: '', bytes: 5, entries: 1 }]);
  });

  it('keeps an LRU list per namespace, with quotas, in the order of the whole LRU (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom('set', 'remove', 'touch'),
            fc.integer({ min: 0, max: 40 }),
            fc.constantFrom('', 'a', 'b', 'c'),
          ),
          { maxLength: 300 },
        ),
        (ops) => {
          const table = new NamespaceTable([{ pattern: '*', bytes: 1e9 }]);
          const idx = new EntryIndex(16, { namespaces: table });
          const nsOf = new Map<number, string>(); // a key keeps the namespace it was first set in
          for (const [op, k, ns] of ops) {
            const id = idx.find(slot(k));
            if (op === 'set') {
              const name = nsOf.get(k) ?? ns;
              nsOf.set(k, name);
              idx.set(slot(k), 1, 0, k + 1, table.idOf(name));
            } else if (op === 'remove' && id >= 0) {
              idx.remove(id);
              nsOf.delete(k);
            } else if (op === 'touch' && id >= 0) {
              idx.touch(id);
            }
          }
          for (const name of ['', 'a', 'b', 'c']) {
            const ns = table.find(name);
            const oldest = [...idx.lruOrder()].find((id) => idx.namespace(id) === ns) ?? -1;
            assert.equal(ns < 0 ? -1 : idx.namespaceTail(ns), oldest, `namespace ${JSON.stringify(name)}`);
            const live = [...nsOf].filter(([, n]) => n === name);
            assert.equal(ns < 0 ? 0 : table.entries(ns), live.length);
            assert.equal(
              ns < 0 ? 0 : table.bytes(ns),
              live.reduce((sum, [k]) => sum + k + 1, 0),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('costs 2 bytes an entry for the namespace id, and 8 more with quotas (per-namespace LRU links)', () => {
    const n = 100_000;
    const fill = (idx: EntryIndex) => {
      for (let i = 0; i < n; i++) idx.set(slot(i), 0, i, 1, idx.namespaces.idOf(`ns-${i % 100}`));
      return idx.memoryBytes;
    };
    const plain = fill(new EntryIndex(n));
    const quotas = fill(new EntryIndex(n, { namespaces: new NamespaceTable([{ pattern: 'ns-*', bytes: 1e9 }]) }));
    // 32 key + 4 segment + 8 offset + 8 size + 4 + 4 links + 2 namespace, and a table of 2-4 slots.
    assert.ok(plain / n <= 62 + 16 + 1, `${plain / n} bytes an entry without quotas`);
    assert.equal(quotas - plain, n * 8 + 2 * 4 * 128, 'quotas add two Int32 links an entry (and ends per namespace)');
  });
});
