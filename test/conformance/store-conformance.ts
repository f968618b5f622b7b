// One conformance suite for the Store contract, run against every implementation
// (memory, disk, and later tiers). Each case pins a promise the frontends rely on.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { digestOf, emptyHash } from '../../src/core/digest.ts';
import { isHoardError } from '../../src/core/errors.ts';
import { acKey, casKey, rawKey } from '../../src/core/keys.ts';
import type { Store } from '../../src/storage/store.ts';

export interface StoreFactory {
  /** A fresh, empty store; `maxBytes` 0 = unbounded. */
  (options: { maxBytes: number }): Promise<Store>;
}

async function* chunked(data: Buffer, size: number, delayMs = 0): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) {
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    yield data.subarray(i, i + size);
  }
}

async function* cutAfter(data: Buffer, bytes: number): AsyncGenerator<Buffer> {
  yield data.subarray(0, bytes);
  throw Object.assign(new Error('client went away'), { code: 'ECONNRESET' });
}

async function readAll(
  store: Store,
  key: ReturnType<typeof casKey>,
  offset?: number,
  limit?: number,
): Promise<Buffer | undefined> {
  const entry = await store.get(key, { offset, limit });
  return entry ? buffer(entry.stream) : undefined;
}

export interface ConformanceOptions {
  /**
   * False for a stack of tiers: each tier keeps its own LRU order (a fast-tier hit does not
   * refresh the slow tier), so the stack as a whole is not one LRU of `maxBytes`. Its own
   * tests pin what its tiers do instead. Default true.
   */
  readonly oneLru?: boolean;
  /**
   * False for a store that keeps whatever it is given and cannot count it cheaply (a
   * bucket): it has no bound to refuse or evict by, and usage() reports no entries. The
   * cases about its bound and its entry count do not apply. Default true.
   */
  readonly bounded?: boolean;
}

export function storeConformance(name: string, make: StoreFactory, options: ConformanceOptions = {}): void {
  const unbounded = options.bounded === false && 'a bucket has no bound of its own';
  /** usage().entries, where the store counts them. */
  const assertEntries = (s: Store, expected: number) => {
    if (options.bounded !== false) assert.equal(s.usage().entries, expected);
  };
  describe(`Store conformance: ${name}`, () => {
    const withStore = (maxBytes: number, fn: (s: Store) => Promise<void>) => async () => {
      const store = await make({ maxBytes });
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    };

    it(
      'round-trips a CAS blob byte for byte, streamed in chunks',
      withStore(0, async (s) => {
        const data = randomBytes(300_000);
        const d = digestOf(data);
        assert.equal(await s.put(casKey(d.hash), chunked(data, 7_001), { size: d.sizeBytes }), 'created');
        assert.deepEqual(await readAll(s, casKey(d.hash)), data);
        assert.equal(await s.stat(casKey(d.hash)), data.length);
        assert.deepEqual(await s.has([casKey(d.hash)]), [true]);
      }),
    );

    it(
      'answers a miss with undefined, not an error',
      withStore(0, async (s) => {
        const k = casKey(digestOf(Buffer.from('never stored')).hash);
        assert.equal(await s.get(k), undefined);
        assert.equal(await s.getBytes(k), undefined);
        assert.equal(await s.stat(k), undefined);
        assert.deepEqual(await s.has([k]), [false]);
      }),
    );

    it(
      'counts a present hash with another size as absent when sizes are given',
      withStore(0, async (s) => {
        const data = Buffer.from('sized content');
        const d = digestOf(data);
        await s.put(casKey(d.hash), data, { size: data.length });
        assert.deepEqual(
          await s.has([casKey(d.hash), casKey(d.hash), casKey(emptyHash())], [data.length, data.length + 1, 0]),
          [true, false, true],
        );
        assert.deepEqual(await s.has([casKey(emptyHash())], [5]), [false]);
      }),
    );

    it(
      'rejects content that does not match its digest and stores nothing',
      withStore(0, async (s) => {
        const good = Buffer.from('the real content');
        const d = digestOf(good);
        await assert.rejects(s.put(casKey(d.hash), Buffer.from('something else!'), { size: 15 }), (e) =>
          isHoardError(e, 'digest_mismatch'),
        );
        assert.deepEqual(await s.has([casKey(d.hash)]), [false]);
        assert.equal(await s.put(casKey(d.hash), good, { size: good.length }), 'created');
      }),
    );

    it(
      'rejects a body shorter or longer than declared and stores nothing',
      withStore(0, async (s) => {
        const data = randomBytes(10_000);
        const d = digestOf(data);
        await assert.rejects(s.put(casKey(d.hash), data.subarray(0, 9_000), { size: 10_000 }), (e) =>
          isHoardError(e, 'size_mismatch'),
        );
        await assert.rejects(s.put(casKey(d.hash), data, { size: 9_999 }), (e) => isHoardError(e, 'size_mismatch'));
        await assert.rejects(s.put(rawKey('r1'), data.subarray(0, 10), { size: 11 }), (e) =>
          isHoardError(e, 'size_mismatch'),
        );
        assert.deepEqual(await s.has([casKey(d.hash), rawKey('r1')]), [false, false]);
      }),
    );

    it(
      'publishes nothing when the sender vanishes mid-stream; the same key uploads fine afterwards',
      withStore(0, async (s) => {
        const data = randomBytes(200_000);
        const d = digestOf(data);
        await assert.rejects(s.put(casKey(d.hash), cutAfter(data, 50_000), { size: d.sizeBytes }), (e) =>
          isHoardError(e, 'aborted'),
        );
        assert.deepEqual(await s.has([casKey(d.hash)]), [false]);
        assert.equal(await s.put(casKey(d.hash), chunked(data, 65_536), { size: d.sizeBytes }), 'created');
        assert.deepEqual(await readAll(s, casKey(d.hash)), data);
      }),
    );

    it(
      'a rejected put leaves the store exactly as it was: entries and bytes (rule 7)',
      withStore(1024 * 1024 * 1024, async (s) => {
        await s.put(rawKey('before'), Buffer.from('kept'), { size: 4 });
        const before = s.usage();
        const big = randomBytes(300_000);
        const d = digestOf(big);
        await assert.rejects(s.put(casKey(d.hash), chunked(randomBytes(300_000), 65_536), { size: d.sizeBytes }), (e) =>
          isHoardError(e, 'digest_mismatch'),
        );
        await assert.rejects(s.put(casKey(d.hash), cutAfter(big, 100_000), { size: d.sizeBytes }), (e) =>
          isHoardError(e, 'aborted'),
        );
        await assert.rejects(s.put(casKey(d.hash), big.subarray(0, 299_999), { size: d.sizeBytes }), (e) =>
          isHoardError(e, 'size_mismatch'),
        );
        await assert.rejects(s.put(rawKey('r'), chunked(big, 65_536), { size: 300_001 }), (e) =>
          isHoardError(e, 'size_mismatch'),
        );
        const after = s.usage();
        assert.equal(after.entries, before.entries);
        assert.equal(
          after.bytes,
          before.bytes,
          'bytes on the medium (and space promised to puts) are back where they were',
        );
      }),
    );

    it(
      'rejects wrong bytes under the digest of a present blob, and keeps the blob',
      withStore(0, async (s) => {
        const good = randomBytes(20_000);
        const d = digestOf(good);
        await s.put(casKey(d.hash), good, { size: good.length });
        const forged = randomBytes(20_000);
        await assert.rejects(s.put(casKey(d.hash), chunked(forged, 4_096), { size: forged.length }), (e) =>
          isHoardError(e, 'digest_mismatch'),
        );
        await assert.rejects(s.put(casKey(d.hash), good.subarray(1), { size: good.length }), (e) =>
          isHoardError(e, 'size_mismatch'),
        );
        assert.equal(await s.put(casKey(d.hash), good, { size: good.length }), 'exists');
        assert.ok((await readAll(s, casKey(d.hash)))?.equals(good));
      }),
    );

    it(
      'rejects wrong bytes for a digest whose upload is in flight, and the right upload still wins',
      withStore(0, async (s) => {
        const good = randomBytes(60_000);
        const d = digestOf(good);
        const first = s.put(casKey(d.hash), chunked(good, 8_192, 2), { size: good.length });
        // Either may settle first (a stack acknowledges `first` only once every tier has it).
        const forged = assert.rejects(s.put(casKey(d.hash), randomBytes(60_000), { size: good.length }), (e) =>
          isHoardError(e, 'digest_mismatch'),
        );
        assert.equal(await first, 'created');
        await forged;
        assert.ok((await readAll(s, casKey(d.hash)))?.equals(good));
      }),
    );

    it(
      'always has the empty blob, and accepts its upload',
      withStore(0, async (s) => {
        const k = casKey(emptyHash());
        assert.deepEqual(await s.has([k]), [true]);
        assert.equal((await readAll(s, k))?.length, 0);
        assert.equal(await s.put(k, Buffer.alloc(0), { size: 0 }), 'exists');
        await assert.rejects(s.put(k, Buffer.from('not empty'), { size: 9 }), (e) =>
          isHoardError(e, 'digest_mismatch'),
        );
        const raw = rawKey('empty-raw');
        assert.equal(await s.put(raw, Buffer.alloc(0), { size: 0 }), 'created');
        assert.equal((await s.getBytes(raw))?.length, 0);
      }),
    );

    it(
      'stores one copy when 100 puts of one blob race, and all of them succeed',
      withStore(0, async (s) => {
        const data = randomBytes(150_000);
        const d = digestOf(data);
        const outcomes = await Promise.all(
          Array.from({ length: 100 }, () => s.put(casKey(d.hash), chunked(data, 16_384, 1), { size: d.sizeBytes })),
        );
        assert.equal(outcomes.filter((o) => o === 'created').length, 1);
        assert.equal(outcomes.filter((o) => o === 'exists').length, 99);
        assert.deepEqual(await readAll(s, casKey(d.hash)), data);
        assertEntries(s, 1);
      }),
    );

    it(
      'serves ranges and rejects offsets past the end',
      withStore(0, async (s) => {
        const data = randomBytes(50_000);
        const d = digestOf(data);
        await s.put(casKey(d.hash), data, { size: data.length });
        assert.deepEqual(await readAll(s, casKey(d.hash), 1_000), data.subarray(1_000));
        assert.deepEqual(await readAll(s, casKey(d.hash), 1_000, 10), data.subarray(1_000, 1_010));
        assert.deepEqual(await readAll(s, casKey(d.hash), 49_990, 100), data.subarray(49_990));
        assert.equal((await readAll(s, casKey(d.hash), 50_000))?.length, 0);
        await assert.rejects(s.get(casKey(d.hash), { offset: 50_001 }), (e) => isHoardError(e, 'out_of_range'));
        await assert.rejects(s.get(casKey(d.hash), { offset: -1 }), (e) => isHoardError(e, 'out_of_range'));
      }),
    );

    it(
      'keeps keyspaces and namespaces apart, and lets AC and raw values be replaced',
      withStore(0, async (s) => {
        const id = digestOf(Buffer.from('x')).hash;
        await s.put(acKey(id), Buffer.from('one'), { size: 3 });
        await s.put(acKey(id, 'other/instance'), Buffer.from('two'), { size: 3 });
        await s.put(rawKey(id), Buffer.from('three'), { size: 5 });
        assert.equal((await s.getBytes(acKey(id)))?.toString(), 'one');
        assert.equal((await s.getBytes(acKey(id, 'other/instance')))?.toString(), 'two');
        assert.equal((await s.getBytes(rawKey(id)))?.toString(), 'three');
        assert.equal(await s.getBytes(casKey(id)), undefined);
        assert.equal(await s.put(acKey(id), Buffer.from('replaced'), { size: 8 }), 'created');
        assert.equal((await s.getBytes(acKey(id)))?.toString(), 'replaced');
        assertEntries(s, 3);
      }),
    );

    it(
      'deletes entries',
      withStore(0, async (s) => {
        await s.put(rawKey('gone'), Buffer.from('bye'), { size: 3 });
        assert.equal(await s.delete(rawKey('gone')), true);
        assert.equal(await s.delete(rawKey('gone')), false);
        assert.equal(await s.getBytes(rawKey('gone')), undefined);
      }),
    );

    it(
      'evicts the least recently used entries first when full',
      { skip: unbounded || (options.oneLru === false && 'a stack of tiers is not one LRU') },
      withStore(64 * 1024, async (s) => {
        const blobs = Array.from({ length: 6 }, () => randomBytes(10 * 1024));
        const keys = blobs.map((b) => casKey(digestOf(b).hash));
        for (let i = 0; i < 4; i++) await s.put(keys[i]!, blobs[i]!, { size: blobs[i]!.length });
        // Touch 0 by reading and 1 by an existence check: 2 and 3 become the oldest.
        assert.ok(await readAll(s, keys[0]!));
        assert.deepEqual(await s.has([keys[1]!]), [true]);
        for (let i = 4; i < 6; i++) await s.put(keys[i]!, blobs[i]!, { size: blobs[i]!.length });
        // Fill until something must go.
        const extra = Array.from({ length: 2 }, () => randomBytes(10 * 1024));
        for (const b of extra) await s.put(casKey(digestOf(b).hash), b, { size: b.length });
        const present = await s.has(keys);
        assert.ok(s.usage().bytes <= 64 * 1024, `usage ${s.usage().bytes} within bound`);
        assert.ok(s.usage().evictions > 0);
        assert.equal(present[2], false, 'least recently used blob 2 was evicted');
        assert.equal(present[3], false, 'next least recently used blob 3 was evicted');
        assert.equal(present[0], true, 'recently read blob 0 survives');
        assert.equal(present[1], true, 'recently checked blob 1 survives');
        assert.equal(present[5], true, 'newest blob 5 survives');
      }),
    );

    it(
      'refuses an entry larger than the whole store with insufficient_storage',
      { skip: unbounded },
      withStore(32 * 1024, async (s) => {
        const big = randomBytes(40 * 1024);
        await assert.rejects(
          s.put(casKey(digestOf(big).hash), big, { size: big.length }),
          (e) => isHoardError(e, 'insufficient_storage') || isHoardError(e, 'too_large'),
        );
        assert.equal(s.usage().entries, 0);
      }),
    );

    it(
      'keeps serving a stream that started before its entry was evicted',
      { skip: unbounded },
      withStore(96 * 1024, async (s) => {
        const first = randomBytes(40 * 1024);
        const fk = casKey(digestOf(first).hash);
        await s.put(fk, first, { size: first.length });
        const entry = await s.get(fk);
        assert.ok(entry);
        // Push the first blob out while its stream is still unread.
        for (let i = 0; i < 5; i++) {
          const b = randomBytes(40 * 1024);
          await s.put(casKey(digestOf(b).hash), b, { size: b.length });
        }
        assert.deepEqual(await s.has([fk]), [false]);
        assert.deepEqual(await buffer(entry.stream), first);
      }),
    );

    it(
      "refuses a body over the put's maxBytes with too_large, declared or not, and stores nothing",
      withStore(0, async (s) => {
        const data = randomBytes(40_000);
        const d = digestOf(data);
        const tooLarge = (e: unknown) => isHoardError(e, 'too_large');
        async function* stopsAtTheFirstExtraByte() {
          yield data.subarray(0, 10_000);
          yield data.subarray(10_000, 10_001);
          throw new Error('the store read past the first extra byte');
        }
        await assert.rejects(s.put(rawKey('undeclared'), stopsAtTheFirstExtraByte(), { maxBytes: 10_000 }), tooLarge);
        await assert.rejects(s.put(rawKey('declared'), data, { size: data.length, maxBytes: 10_000 }), tooLarge);
        await assert.rejects(
          s.put(casKey(d.hash), chunked(data, 4_096), { size: d.sizeBytes, maxBytes: 39_999 }),
          tooLarge,
        );
        assert.deepEqual(await s.has([rawKey('undeclared'), rawKey('declared'), casKey(d.hash)]), [
          false,
          false,
          false,
        ]);
        assertEntries(s, 0);
        assert.equal(
          await s.put(casKey(d.hash), data, { size: d.sizeBytes, maxBytes: 40_000 }),
          'created',
          'exactly maxBytes fits',
        );
      }),
    );

    it('close() lets a put still streaming finish or fail cleanly, and refuses puts after it', async () => {
      const s = await make({ maxBytes: 0 });
      const data = randomBytes(100_000);
      const streaming = s.put(rawKey('in-flight'), chunked(data, 10_000, 5)).then(
        (outcome) => outcome,
        (e: unknown) => {
          assert.ok(isHoardError(e, 'unavailable') || isHoardError(e, 'aborted'), `a clean failure, not ${String(e)}`);
          return 'failed';
        },
      );
      await new Promise((r) => setTimeout(r, 12)); // a few chunks in
      const closed = s.close();
      await assert.rejects(s.put(rawKey('late'), Buffer.from('late')), (e) => isHoardError(e, 'unavailable'));
      await closed;
      assert.ok(['created', 'failed'].includes(await streaming));
      await s.close(); // a second close is harmless
      await assert.rejects(s.put(rawKey('later'), Buffer.from('later')), (e) => isHoardError(e, 'unavailable'));
    });

    it(
      'rejects a CAS put without a declared size',
      withStore(0, async (s) => {
        const data = Buffer.from('abc');
        await assert.rejects(s.put(casKey(digestOf(data).hash), data), (e) => isHoardError(e, 'invalid_argument'));
      }),
    );
  });
}
