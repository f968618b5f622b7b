// Model-based test of the disk store's bookkeeping (eviction, compaction, replacement,
// deletion, restart): random operation sequences against a tightly bounded store. Whatever
// eviction chose, a present entry must hold exactly the last value written for its key,
// a deleted key stays gone, usage stays within the bound, and a restart keeps exactly what
// was present before it. Without a bound, presence must match the model exactly.
// Durability 'none': the model checks bookkeeping, not syncs (those have their own tests),
// and each operation here is a commit of its own, so on a slow disk the fdatasyncs alone
// outlasted the timeout (CI, stop 11). Each run must end within 20 s (a hang is a failure
// with its seed), and a slow machine runs fewer cases within 60 s rather than time out.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { digestOf } from '../../core/digest.ts';
import { casKey, keyString, rawKey, type Key } from '../../core/keys.ts';
import { openDiskStore, type DiskStore } from './disk-store.ts';

type Cmd =
  | { op: 'cas'; seed: number; size: number }
  | { op: 'raw'; k: number; seed: number; size: number }
  | { op: 'del'; k: number }
  | { op: 'touch'; k: number }
  | { op: 'reopen' };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('cas' as const),
      seed: fc.nat(50),
      size: fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 9000, max: 20_000 })),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('raw' as const),
      k: fc.nat(8),
      seed: fc.nat(1000),
      size: fc.integer({ min: 0, max: 12_000 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('del' as const), k: fc.nat(8) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('touch' as const), k: fc.nat(8) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'reopen' as const }) },
);

function bytesOf(seed: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (seed * 31 + i * 7 + (i >> 8)) & 0xff;
  return b;
}

async function snapshot(store: DiskStore, keys: Map<string, Key>): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const [id, key] of keys) {
    const v = await store.getBytes(key);
    if (v) out.set(id, v);
  }
  return out;
}

for (const maxBytes of [0, 96 * 1024]) {
  test(
    `disk store matches its model under random operations (maxBytes ${maxBytes})`,
    { timeout: 120_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(cmd, { minLength: 10, maxLength: 70 }), async (cmds) => {
          const dir = await mkdtemp(path.join(tmpdir(), 'hoard-model-'));
          const opts = {
            dir,
            maxBytes,
            durability: 'none' as const,
            smallEntryBytes: 8 * 1024,
            segmentBytes: 16 * 1024,
          };
          let store = await openDiskStore(opts);
          const model = new Map<string, Buffer>(); // last value written per key
          const keys = new Map<string, Key>();
          try {
            for (const c of cmds) {
              if (c.op === 'cas') {
                const data = bytesOf(c.seed, c.size);
                const key = casKey(digestOf(data).hash);
                await store.put(key, data, { size: data.length });
                model.set(keyString(key), data);
                keys.set(keyString(key), key);
              } else if (c.op === 'raw') {
                const key = rawKey(`k${c.k}`);
                const data = bytesOf(c.seed, c.size);
                await store.put(key, data, { size: data.length });
                model.set(keyString(key), data);
                keys.set(keyString(key), key);
              } else if (c.op === 'del') {
                const key = rawKey(`k${c.k}`);
                await store.delete(key);
                model.delete(keyString(key));
              } else if (c.op === 'touch') {
                await store.has([rawKey(`k${c.k}`)]);
              } else {
                const before = await snapshot(store, keys);
                await store.close();
                store = await openDiskStore(opts);
                const after = await snapshot(store, keys);
                assert.deepEqual(
                  [...after.keys()].sort(),
                  [...before.keys()].sort(),
                  'a restart keeps exactly what was present',
                );
              }
              if (maxBytes > 0)
                assert.ok(store.usage().bytes <= maxBytes, `usage ${store.usage().bytes} > ${maxBytes}`);
              const present = await snapshot(store, keys);
              for (const [id, value] of present) {
                assert.ok(model.has(id), `${id} present after its deletion`);
                assert.deepEqual(value, model.get(id), `${id} holds its last written value`);
              }
              if (maxBytes === 0) assert.equal(present.size, model.size, 'without a bound nothing is lost');
              assert.equal(store.usage().entries, present.size);
            }
          } finally {
            await store.close();
            await rm(dir, { recursive: true, force: true });
          }
        }),
        {
          numRuns: maxBytes === 0 ? 20 : 100,
          plugins: [fc.timeout(20_000), fc.interruptAfterTimeLimit(60_000)],
          ...(process.env.HOARD_MODEL_SEED
            ? { seed: Number(process.env.HOARD_MODEL_SEED), path: process.env.HOARD_MODEL_PATH }
            : {}),
        },
      );
    },
  );
}
