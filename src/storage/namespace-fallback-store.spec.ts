import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, describe, it } from 'node:test';
import { storeConformance } from '../../test/conformance/store-conformance.ts';
import { storeAcrossThreads } from '../../test/helpers/store-across-threads.ts';
import { getCompleteActionResult } from '../cache/completeness.ts';
import { digestOf, type Digest } from '../core/digest.ts';
import { acKey, casKey, rawKey, type Key } from '../core/keys.ts';
import { protoType, REAPI } from '../core/proto.ts';
import { createStore } from './create-store.ts';
import { openDiskStore } from './disk/disk-store.ts';
import { MemoryStore } from './memory-store.ts';
import { NamespaceFallbackStore, withNamespaceFallback } from './namespace-fallback-store.ts';
import type { Store } from './store.ts';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function freshDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'hoard-fallback-'));
  dirs.push(d);
  return d;
}

// The contract holds with a rule for every namespace (the default one included), whose
// fallback namespace the suite never writes.
storeConformance('NamespaceFallbackStore (memory)', async ({ maxBytes }) =>
  withNamespaceFallback(new MemoryStore({ maxBytes }), [{ pattern: '*', fallback: ['elsewhere'] }]),
);

const RULES = [
  { pattern: 'pr-*', fallback: ['main'] },
  { pattern: 'feature-*', fallback: ['develop', 'main'] },
];

async function putIn(store: Store, namespace: string, text: string): Promise<Key> {
  const data = Buffer.from(text);
  const key = casKey(digestOf(data).hash, namespace);
  await store.put(key, data, { size: data.length });
  return key;
}

function inNs(key: Key, namespace: string): Key {
  return { keyspace: key.keyspace, namespace, id: key.id };
}

/** A memory store that counts the calls that reach it. */
class CountingStore extends MemoryStore {
  hasCalls = 0;
  hasDigestCalls = 0;
  override has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    this.hasCalls++;
    return super.has(keys, sizes);
  }
  async hasDigests(digests: Uint8Array, sizes?: ArrayLike<number>): Promise<Uint8Array> {
    this.hasDigestCalls++;
    const keys: Key[] = [];
    for (let i = 0; i < digests.length; i += 32)
      keys.push(casKey(Buffer.from(digests.subarray(i, i + 32)).toString('hex')));
    const present = await super.has(keys, sizes === undefined ? undefined : Array.from(sizes));
    return Uint8Array.from(present, (p) => (p ? 1 : 0));
  }
}

describe('NamespaceFallbackStore', () => {
  it('reads a miss from the fallback namespaces in order; the first hit answers', async () => {
    const inner = new MemoryStore();
    const store = new NamespaceFallbackStore(inner, RULES);
    const onMain = await putIn(inner, 'main', 'on main');
    const ac = acKey('a'.repeat(64), 'main');
    await inner.put(ac, Buffer.from('main result'));
    await inner.put(acKey('a'.repeat(64), 'develop'), Buffer.from('develop result'));

    const viaPr = inNs(onMain, 'pr-7');
    assert.equal(await store.stat(viaPr), 7);
    assert.equal((await store.getBytes(viaPr))?.toString(), 'on main');
    const entry = await store.get(viaPr, { offset: 3 });
    assert.equal((await buffer(entry!.stream)).toString(), 'main');
    assert.deepEqual(await store.has([viaPr, inNs(onMain, 'other')]), [true, false], 'no rule, no fallback');
    assert.equal((await store.getBytes(inNs(ac, 'feature-x')))?.toString(), 'develop result', 'develop before main');
    assert.equal((await store.getBytes(inNs(ac, 'pr-1')))?.toString(), 'main result');
    assert.equal(await store.stat(inNs(onMain, 'main')), 7, 'the fallback itself reads as ever');
    assert.equal(await store.getBytes(inNs(ac, 'other')), undefined);

    // The key's own namespace wins over its fallbacks.
    await inner.put(acKey('a'.repeat(64), 'pr-1'), Buffer.from('pr result'));
    assert.equal((await store.getBytes(inNs(ac, 'pr-1')))?.toString(), 'pr result');
  });

  it('has with sizes: an entry of another size is absent, and the next fallback is tried', async () => {
    const inner = new MemoryStore();
    const store = new NamespaceFallbackStore(inner, RULES);
    // The same raw id with different sizes in develop and main.
    await inner.put(rawKey('r', 'develop'), Buffer.from('12345'));
    await inner.put(rawKey('r', 'main'), Buffer.from('1234567890'));
    const k = rawKey('r', 'feature-1');
    assert.deepEqual(await store.has([k, k, k], [5, 10, 3]), [true, true, false]);
    assert.deepEqual(await store.has([rawKey('r', 'pr-1')], [5]), [false], 'main has it at another size');
  });

  it('writes and deletes in the key’s own namespace only', async () => {
    const inner = new MemoryStore();
    const store = new NamespaceFallbackStore(inner, RULES);
    const onPr = await putIn(store, 'pr-1', 'pull request output');
    assert.deepEqual(await inner.has([onPr, inNs(onPr, 'main')]), [true, false]);
    assert.deepEqual(await store.has([inNs(onPr, 'main')]), [false], 'main does not fall back to pr-1');
    const onMain = await putIn(inner, 'main', 'main output');
    assert.equal(await store.delete(inNs(onMain, 'pr-1')), false, 'a delete through pr-1 leaves main alone');
    assert.deepEqual(await inner.has([onMain]), [true]);
  });

  it('packed digests: the inner store answers alone unless the default namespace falls back', async () => {
    const plain = new CountingStore();
    const direct = new NamespaceFallbackStore(plain, RULES);
    const blob = Buffer.from('default blob');
    await plain.put(casKey(digestOf(blob).hash), blob, { size: blob.length });
    const digests = Buffer.concat([Buffer.from(digestOf(blob).hash, 'hex'), Buffer.alloc(32, 7)]);
    assert.deepEqual([...(await direct.hasDigests!(digests, [blob.length, 1]))], [1, 0]);
    assert.deepEqual([plain.hasDigestCalls, plain.hasCalls], [1, 0]);

    const inner = new CountingStore();
    const falling = new NamespaceFallbackStore(inner, [{ pattern: '', fallback: ['main'] }]);
    const onMain = Buffer.from('on main only');
    await inner.put(casKey(digestOf(onMain).hash, 'main'), onMain, { size: onMain.length });
    await inner.put(casKey(digestOf(blob).hash), blob, { size: blob.length });
    const packed = Buffer.concat([digests, Buffer.from(digestOf(onMain).hash, 'hex')]);
    assert.deepEqual([...(await falling.hasDigests!(packed, [blob.length, 1, onMain.length]))], [1, 0, 1]);
    assert.deepEqual([...(await falling.hasDigests!(packed, [blob.length, 1, 1]))], [1, 0, 0], 'sizes hold');
    assert.equal(
      new NamespaceFallbackStore(new MemoryStore(), RULES).hasDigests,
      undefined,
      'none when inner has none',
    );
  });

  it('rule 6 sees blobs across the fallback: an AC entry read through pr-1 from main is a hit when its blobs are in pr-1 or main', async () => {
    const encode = (type: string, value: object): Buffer => {
      const t = protoType(`${REAPI}.${type}`);
      return Buffer.from(t.encode(t.create(value)).finish());
    };
    const disk = await openDiskStore({ dir: await freshDir(), maxBytes: 0, durability: 'none' });
    const local = new NamespaceFallbackStore(disk, RULES);
    // Both worker modes: the completeness check runs where the frontends run, across the channel.
    for (const store of [local, storeAcrossThreads(local)]) {
      const tag = store === local ? 'same thread' : 'across threads';
      const blob = async (ns: string, text: string): Promise<Digest> => {
        const d = digestOf(Buffer.from(`${tag}: ${text}`));
        await store.put(casKey(d.hash, ns), Buffer.from(`${tag}: ${text}`), { size: d.sizeBytes });
        return d;
      };
      const out = await blob('main', 'output on main');
      const stdout = await blob('pr-1', 'stdout on pr-1');
      const missing = digestOf(Buffer.from(`${tag}: nowhere`));
      const result = (files: Digest[]) =>
        encode('ActionResult', {
          outputFiles: files.map((d, i) => ({ path: `o${i}`, digest: { hash: d.hash, sizeBytes: d.sizeBytes } })),
          stdoutDigest: { hash: stdout.hash, sizeBytes: stdout.sizeBytes },
        });
      const hit = digestOf(Buffer.from(`${tag}: action`)).hash;
      const miss = digestOf(Buffer.from(`${tag}: other action`)).hash;
      await store.put(acKey(hit, 'main'), result([out]));
      await store.put(acKey(miss, 'main'), result([out, missing]));
      assert.ok(await getCompleteActionResult(store, hit, { namespace: 'pr-1' }), `${tag}: a hit through pr-1`);
      assert.equal(
        await getCompleteActionResult(store, miss, { namespace: 'pr-1' }),
        undefined,
        `${tag}: a blob nowhere`,
      );
      assert.equal(
        await getCompleteActionResult(store, hit, { namespace: 'main' }),
        undefined,
        `${tag}: main alone does not see pr-1's stdout`,
      );
      if (store !== local) await store.close();
    }
    await local.close();
  });

  it('createStore wraps the stack only when the config has fallback rules', async () => {
    const base = { maxSize: 1024 * 1024, durability: 'none' } as const;
    const plain = await createStore({ ...base, dir: await freshDir() });
    const wrapped = await createStore({ ...base, dir: await freshDir(), namespaceFallback: RULES });
    try {
      assert.ok(!(plain instanceof NamespaceFallbackStore));
      assert.ok(wrapped instanceof NamespaceFallbackStore);
      assert.equal(typeof plain.hasDigests, 'function', "the disk tier's packed digests stay reachable");
      assert.equal(typeof wrapped.hasDigests, 'function');
      const onMain = await putIn(wrapped, 'main', 'stacked');
      assert.deepEqual(await wrapped.has([inNs(onMain, 'pr-3')]), [true]);
    } finally {
      await plain.close();
      await wrapped.close();
    }
  });
});
