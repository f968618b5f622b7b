import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, describe, it } from 'node:test';
import { storeConformance } from '../../test/conformance/store-conformance.ts';
import { digestOf } from '../core/digest.ts';
import { isHoardError } from '../core/errors.ts';
import { acKey, casKey, rawKey, type Key } from '../core/keys.ts';
import { openDiskStore } from './disk/disk-store.ts';
import { MemoryStore } from './memory-store.ts';
import { ReadThroughStore } from './read-through-store.ts';
import type { Entry, ReadOptions, Store } from './store.ts';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function pair(fast: Store, slow: Store): ReadThroughStore {
  return new ReadThroughStore(
    { name: 'fast', kind: 'memory', store: fast },
    { name: 'slow', kind: 'memory', store: slow },
  );
}

storeConformance(
  'ReadThroughStore (memory over memory)',
  async ({ maxBytes }) => pair(new MemoryStore({ maxBytes }), new MemoryStore({ maxBytes })),
  { oneLru: false },
);

storeConformance(
  'ReadThroughStore (disk over memory)',
  async ({ maxBytes }) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hoard-read-through-'));
    dirs.push(dir);
    const disk = await openDiskStore({ dir, maxBytes, durability: 'none', smallEntryBytes: 32 * 1024 });
    return pair(disk, new MemoryStore({ maxBytes }));
  },
  { oneLru: false },
);

/** A memory store that counts reads and can be told to hand out other bytes than it holds. */
class SlowTier extends MemoryStore {
  gets = 0;
  /** Replaces the whole-entry stream's bytes (same length) when set. */
  forge?: (data: Buffer) => Buffer;
  /** Yields this many bytes, then fails the stream, when set. */
  failAfter?: number;
  /** Chunk size and pause per chunk of the streams it hands out. */
  chunk = 16 * 1024;
  pauseMs = 0;

  override async get(key: Key, options?: ReadOptions): Promise<Entry | undefined> {
    this.gets++;
    const entry = await super.get(key, options);
    if (entry === undefined) return undefined;
    let data = entry.bytes!;
    if (this.forge) data = this.forge(data);
    const { chunk, pauseMs, failAfter } = this;
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < data.length; i += chunk) {
        if (failAfter !== undefined && i >= failAfter) throw new Error('the slow tier lost its connection');
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
        yield data.subarray(i, i + chunk);
      }
    }
    return { size: entry.size, stream: Readable.from(chunks(), { objectMode: false }) };
  }
}

async function stored(s: Store, data: Buffer): Promise<Key> {
  const key = casKey(digestOf(data).hash);
  await s.put(key, data, { size: data.length });
  return key;
}

describe('ReadThroughStore', () => {
  it('serves a fast-tier miss from the slow tier whole, and fills the fast tier', async () => {
    const fast = new MemoryStore();
    const slow = new SlowTier();
    const s = pair(fast, slow);
    const data = randomBytes(300_000);
    const key = await stored(slow, data);
    assert.deepEqual(await fast.has([key]), [false]);

    const entry = await s.get(key);
    assert.ok(entry);
    assert.equal(entry.size, data.length);
    assert.ok((await buffer(entry.stream)).equals(data));
    assert.ok((await fast.getBytes(key))?.equals(data), 'the read filled the fast tier');

    assert.ok((await buffer((await s.get(key))!.stream)).equals(data));
    assert.equal(slow.gets, 1, 'the second read was the fast tier’s');
    const [, slowTier] = s.usage().tiers!;
    assert.equal(slowTier?.name, 'slow');
    assert.equal(slowTier?.errors, 0);
    await s.close();
  });

  it('never caches corrupt CAS bytes from the slow tier, and fails the read', async () => {
    const fast = new MemoryStore();
    const slow = new SlowTier();
    const s = pair(fast, slow);
    const data = randomBytes(100_000);
    const key = await stored(slow, data);
    slow.forge = (d) => {
      const copy = Buffer.from(d);
      copy[50_000]! ^= 0xff;
      return copy;
    };
    const entry = await s.get(key);
    assert.ok(entry);
    await assert.rejects(buffer(entry.stream), (e) => isHoardError(e, 'corrupt'));
    await settled();
    assert.deepEqual(await fast.has([key]), [false], 'nothing landed in the fast tier');
    assert.equal(fast.usage().entries, 0);
    assert.equal(s.usage().tiers![1]!.errors, 1, 'counted against the slow tier');

    // A short stream is no better: too few bytes are an error, not a shorter body.
    slow.forge = (d) => d.subarray(0, 60_000);
    await assert.rejects(buffer((await s.get(key))!.stream), (e) => isHoardError(e, 'corrupt'));
    assert.deepEqual(await fast.has([key]), [false]);

    // getBytes checks the hash too.
    const small = Buffer.from('a small blob');
    const smallKey = await stored(slow, small);
    const lying = pair(fast, {
      ...bound(slow),
      getBytes: async () => Buffer.from('a small blod'),
    });
    await assert.rejects(lying.getBytes(smallKey), (e) => isHoardError(e, 'corrupt'));
    assert.deepEqual(await fast.has([smallKey]), [false]);
    await s.close();
  });

  it('fails the read, caches nothing and counts an error when the slow tier fails mid-stream', async () => {
    const fast = new MemoryStore();
    const slow = new SlowTier();
    const s = pair(fast, slow);
    const data = randomBytes(200_000);
    const key = await stored(slow, data);
    slow.failAfter = 64 * 1024;
    await assert.rejects(buffer((await s.get(key))!.stream), /lost its connection/);
    await settled();
    assert.deepEqual(await fast.has([key]), [false]);
    assert.equal(s.usage().tiers![1]!.errors, 1);
    await s.close();
  });

  it('reads the slow tier once for 20 concurrent misses of one key, and all get the whole blob', async () => {
    const fast = new MemoryStore();
    const slow = new SlowTier();
    slow.pauseMs = 2;
    const s = pair(fast, slow);
    const data = randomBytes(200_000);
    const key = await stored(slow, data);
    const reads = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const entry = await s.get(key);
        assert.ok(entry);
        return buffer(entry.stream);
      }),
    );
    for (const r of reads) assert.ok(r.equals(data));
    assert.equal(slow.gets, 1);

    // A key neither tier has: one read of the slow tier answers all 20 misses.
    const absent = casKey(digestOf(Buffer.from('in no tier')).hash);
    const misses = await Promise.all(Array.from({ length: 20 }, () => s.get(absent)));
    assert.deepEqual(misses, Array(20).fill(undefined));
    assert.equal(slow.gets, 2);
    await s.close();
  });

  it('leaves nothing in the fast tier when the caller stops reading mid-stream, and the next read fills it', async () => {
    const fast = new MemoryStore();
    const slow = new SlowTier();
    slow.pauseMs = 1;
    const s = pair(fast, slow);
    const data = randomBytes(500_000);
    const key = await stored(slow, data);
    const entry = await s.get(key);
    assert.ok(entry);
    let seen = 0;
    for await (const chunk of entry.stream) {
      seen += (chunk as Buffer).length;
      if (seen >= 100_000) break; // destroys the stream: the caller went away
    }
    await settled();
    assert.deepEqual(await fast.has([key]), [false]);
    assert.equal(fast.usage().entries, 0);
    assert.equal(s.usage().tiers![1]!.errors, 0, 'a caller going away is not the slow tier’s fault');

    assert.ok((await buffer((await s.get(key))!.stream)).equals(data));
    assert.deepEqual(await fast.has([key]), [true]);

    // A raw entry has no hash to catch a partial copy: only the declared size does.
    const raw = rawKey('raw-entry');
    await slow.put(raw, data);
    const rawEntry = await s.get(raw);
    assert.ok(rawEntry);
    seen = 0;
    for await (const chunk of rawEntry.stream) {
      seen += (chunk as Buffer).length;
      if (seen >= 100_000) break;
    }
    await settled();
    assert.deepEqual(await fast.has([raw]), [false]);
    await s.close();
  });

  it('a waiting reader takes over when the reader it waited on goes away', async () => {
    const fast = new MemoryStore();
    const slow = new SlowTier();
    slow.pauseMs = 1;
    const s = pair(fast, slow);
    const data = randomBytes(300_000);
    const key = await stored(slow, data);
    const first = await s.get(key);
    const second = s.get(key);
    first!.stream.destroy();
    assert.ok((await buffer((await second)!.stream)).equals(data));
    assert.deepEqual(await fast.has([key]), [true]);
    assert.equal(slow.gets, 2);
    await s.close();
  });

  it('serves a range on a fast-tier miss from the slow tier without filling', async () => {
    const fast = new MemoryStore();
    const slow = new SlowTier();
    const s = pair(fast, slow);
    const data = randomBytes(100_000);
    const key = await stored(slow, data);
    assert.ok(
      (await buffer((await s.get(key, { offset: 1_000, limit: 500 }))!.stream)).equals(data.subarray(1_000, 1_500)),
    );
    assert.deepEqual(await fast.has([key]), [false]);
    await s.close();
  });

  it('fills from getBytes, and still serves an entry the fast tier refuses', async () => {
    const fast = new MemoryStore({ maxBytes: 50_000 });
    const slow = new SlowTier();
    const s = pair(fast, slow);
    const ac = Buffer.from('an action result');
    await slow.put(acKey('a'.repeat(64)), ac);
    assert.ok((await s.getBytes(acKey('a'.repeat(64))))?.equals(ac));
    assert.ok((await fast.getBytes(acKey('a'.repeat(64))))?.equals(ac));

    const big = randomBytes(80_000); // over the fast tier's whole bound
    const key = await stored(slow, big);
    assert.ok((await buffer((await s.get(key))!.stream)).equals(big));
    assert.deepEqual(await fast.has([key]), [false]);
    await s.close();
  });

  it('tells the slow tier of every hit and every entry found present, whichever tier answered', async () => {
    class Renewing extends MemoryStore {
      readonly used: string[] = [];
      refresh(keys: readonly Key[]): void {
        this.used.push(...keys.map((k) => k.id));
      }
    }
    const fast = new MemoryStore();
    const slow = new Renewing();
    const store = pair(fast, slow);
    const local = Buffer.from('on the fast tier');
    const remote = Buffer.from('only on the slow tier');
    const [l, r] = [local, remote].map((b) => casKey(digestOf(b).hash)) as [Key, Key];
    await fast.put(l, local, { size: local.length });
    await slow.put(r, remote, { size: remote.length });
    const absent = casKey('0'.repeat(64));
    assert.deepEqual(await store.has([l, r, absent]), [true, true, false]);
    assert.deepEqual(slow.used.splice(0), [l.id, r.id]);
    assert.ok(await store.get(l));
    assert.deepEqual(await store.getBytes(r), remote);
    assert.equal(await store.get(absent), undefined);
    assert.deepEqual(slow.used, [l.id, r.id], 'each hit, not the miss');
  });

  it('answers has and stat from either tier, and writes through to both', async () => {
    const fast = new MemoryStore();
    const slow = new MemoryStore();
    const s = pair(fast, slow);
    const inSlow = await stored(slow, Buffer.from('only in the slow tier'));
    const absent = casKey(digestOf(Buffer.from('nowhere')).hash);
    const written = await stored(s, Buffer.from('written through'));
    assert.deepEqual(await s.has([inSlow, absent, written]), [true, false, true]);
    assert.deepEqual(await s.has([inSlow], [3]), [false], 'the slow tier checks sizes too');
    assert.equal(await s.stat(inSlow), 21);
    assert.deepEqual(await fast.has([written]), [true]);
    assert.deepEqual(await slow.has([written]), [true]);
    await s.put(rawKey('r'), Buffer.from('v1'));
    await s.put(rawKey('r'), Buffer.from('v2'));
    assert.equal((await slow.getBytes(rawKey('r')))?.toString(), 'v2');

    // A blob the fast tier has and the slow tier lost is copied again by the next put.
    await slow.delete(written);
    assert.equal(await s.put(written, Buffer.from('written through'), { size: 15 }), 'exists');
    assert.deepEqual(await slow.has([written]), [true]);

    assert.equal(await s.delete(written), true);
    assert.deepEqual(await s.has([written]), [false]);
    await s.close();
  });

  it('keeps an entry the fast tier evicted readable from the slow tier', async () => {
    const fast = new MemoryStore({ maxBytes: 64 * 1024 });
    const slow = new MemoryStore();
    const s = pair(fast, slow);
    const blobs = Array.from({ length: 10 }, () => randomBytes(10 * 1024));
    const keys = [];
    for (const b of blobs) keys.push(await stored(s, b));
    assert.ok(fast.usage().evictions > 0);
    assert.deepEqual(await s.has(keys), Array(10).fill(true));
    assert.ok((await buffer((await s.get(keys[0]!))!.stream)).equals(blobs[0]!));
    const u = s.usage();
    assert.deepEqual(
      u.tiers!.map((t) => [t.name, t.entries]),
      [
        ['fast', fast.usage().entries],
        ['slow', 10],
      ],
    );
    assert.equal(u.entries, fast.usage().entries, 'the top-level figures are the front tier’s');
    await s.close();
  });
});

/** Lets a failed read's bookkeeping (counts, the fill's end) finish after the caller saw the error. */
function settled(): Promise<void> {
  return new Promise((r) => setTimeout(r, 20));
}

/** The store's methods, bound, as a plain object to override some of. */
function bound(s: Store): Store {
  return {
    has: s.has.bind(s),
    stat: s.stat.bind(s),
    get: s.get.bind(s),
    getBytes: s.getBytes.bind(s),
    put: s.put.bind(s),
    delete: s.delete.bind(s),
    usage: s.usage.bind(s),
    close: s.close.bind(s),
  };
}
