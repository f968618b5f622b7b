// The action cache's one policy: what a hit is (rule 6; undecodable is a miss whatever the
// completeness setting), lookups counted per protocol here and not by frontends, stored
// bytes as sent (HTTP) or canonical with inline bytes moved to the CAS (REAPI), raw entries.
import assert from 'node:assert/strict';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { decodeActionResult } from '../core/action-result.ts';
import { digestOf, type Digest } from '../core/digest.ts';
import { isHoardError } from '../core/errors.ts';
import { acKey, casKey, keyString, type Key } from '../core/keys.ts';
import { protoType, REAPI } from '../core/proto.ts';
import { MemoryStore } from '../storage/memory-store.ts';
import type { ActionResultMessage } from './action-result-validation.ts';
import { CacheService } from './cache-service.ts';

const ActionResult = protoType(`${REAPI}.ActionResult`);
const encode = (value: object): Buffer => Buffer.from(ActionResult.encode(ActionResult.create(value)).finish());
const pb = (d: Digest) => ({ hash: d.hash, sizeBytes: d.sizeBytes });
const ACTION = 'a'.repeat(64);

function setup(acCompleteness = true) {
  const store = new MemoryStore();
  const lookups: string[] = [];
  const published: string[] = [];
  const cache = new CacheService({
    store,
    acCompleteness,
    metrics: { lookup: (protocol, key, result) => lookups.push(`${protocol} ${key.keyspace} ${result}`) },
    onCasPublished: (key: Key) => published.push(keyString(key)),
  });
  const putCas = async (text: string, ns = ''): Promise<Digest> => {
    const data = Buffer.from(text);
    const d = digestOf(data);
    await store.put(casKey(d.hash, ns), data, { size: data.length });
    return d;
  };
  return { store, cache, lookups, published, putCas };
}

describe('CacheService.getActionResult', () => {
  it('answers a complete result and counts the hit under the caller protocol; an absent one is a counted miss', async () => {
    const { store, cache, lookups, putCas } = setup();
    const out = await putCas('output', 'ns');
    const result = encode({ outputFiles: [{ path: 'o', digest: pb(out) }] });
    await store.put(acKey(ACTION, 'ns'), result);
    assert.deepEqual(await cache.getActionResult('ns', ACTION, { protocol: 'bazel-http' }), result);
    assert.equal(await cache.getActionResult('', ACTION, { protocol: 'reapi' }), undefined, 'another namespace');
    assert.deepEqual(lookups, ['bazel-http ac hit', 'reapi ac miss']);
  });

  it('with completeness on, a result whose output is gone is a miss (rule 6); off, it is a hit', async () => {
    for (const completeness of [true, false]) {
      const { store, cache, lookups } = setup(completeness);
      const result = encode({ outputFiles: [{ path: 'o', digest: pb(digestOf(Buffer.from('never stored'))) }] });
      await store.put(acKey(ACTION), result);
      const got = await cache.getActionResult('', ACTION, { protocol: 'reapi' });
      assert.deepEqual(got, completeness ? undefined : result, `completeness ${completeness}`);
      assert.deepEqual(lookups, [completeness ? 'reapi ac miss' : 'reapi ac hit']);
    }
  });

  it('a stored value that is not an ActionResult is a miss whatever the completeness setting', async () => {
    for (const completeness of [true, false]) {
      const { store, cache, lookups } = setup(completeness);
      await store.put(acKey(ACTION), Buffer.from([0x0a, 0x50, 0x01])); // field 1, length 80, one byte
      assert.equal(await cache.getActionResult('', ACTION, { protocol: 'bazel-http' }), undefined);
      assert.deepEqual(lookups, ['bazel-http ac miss'], `completeness ${completeness}`);
    }
  });
});

describe('CacheService.putEncodedActionResult', () => {
  it('stores the bytes exactly as sent, unknown fields included', async () => {
    const { store, cache } = setup();
    const unknownField = Buffer.from([0xb8, 0x3e, 0x01]); // field 999, varint 1
    const bytes = Buffer.concat([encode({ exitCode: 3 }), unknownField]);
    await cache.putEncodedActionResult('ns', ACTION, bytes);
    assert.deepEqual(await store.getBytes(acKey(ACTION, 'ns')), bytes);
  });

  it('refuses what does not decode or validate, and stores nothing', async () => {
    const { store, cache } = setup();
    for (const bytes of [
      Buffer.from([0xff, 0xff, 0xff]),
      encode({ outputFiles: [{ path: '/abs', digest: pb(digestOf(Buffer.from('x'))) }] }),
    ]) {
      await assert.rejects(cache.putEncodedActionResult('', ACTION, bytes), (err: unknown) =>
        isHoardError(err, 'invalid_argument'),
      );
    }
    assert.equal(await store.getBytes(acKey(ACTION)), undefined);
  });
});

describe('CacheService.putActionResult', () => {
  it('moves inline bytes into the CAS of its namespace, tells onCasPublished, stores the canonical result', async () => {
    const { store, cache, published } = setup();
    const ar = ActionResult.decode(
      encode({ stdoutRaw: Buffer.from('out!'), outputFiles: [{ path: 'x', contents: Buffer.from('content') }] }),
    ) as ActionResultMessage;
    const stored = await cache.putActionResult('ns', ACTION, ar);
    const stdout = digestOf(Buffer.from('out!'));
    const content = digestOf(Buffer.from('content'));
    assert.equal(stored.stdoutDigest?.hash, stdout.hash);
    assert.equal(stored.outputFiles?.[0]?.digest?.hash, content.hash);
    assert.deepEqual(await store.has([casKey(stdout.hash, 'ns'), casKey(content.hash, 'ns')]), [true, true]);
    assert.deepEqual(
      published.sort(),
      [keyString(casKey(stdout.hash, 'ns')), keyString(casKey(content.hash, 'ns'))].sort(),
    );
    const decoded = decodeActionResult((await store.getBytes(acKey(ACTION, 'ns')))!) as ActionResultMessage;
    assert.equal(decoded.stdoutRaw?.length ?? 0, 0, 'no inline bytes are stored in the AC');
    assert.equal(decoded.outputFiles?.[0]?.contents?.length ?? 0, 0);
  });

  it('refuses inline bytes that do not match the digest beside them (digest_mismatch), storing no result', async () => {
    const { store, cache } = setup();
    const ar: ActionResultMessage = { stdoutRaw: Buffer.from('x'), stdoutDigest: pb(digestOf(Buffer.from('y'))) };
    await assert.rejects(cache.putActionResult('', ACTION, ar), (err: unknown) => isHoardError(err, 'digest_mismatch'));
    assert.equal(await store.getBytes(acKey(ACTION)), undefined);
  });

  it('refuses an invalid result before writing anything', async () => {
    const { store, cache } = setup();
    const ar: ActionResultMessage = { stdoutRaw: Buffer.from('x'), outputDirectories: [{ path: 'd' }] };
    await assert.rejects(cache.putActionResult('', ACTION, ar), (err: unknown) =>
      isHoardError(err, 'invalid_argument'),
    );
    assert.equal(store.usage().entries, 0);
  });

  it('never stores an empty result', async () => {
    const { store, cache } = setup();
    const stored = await cache.putActionResult('', ACTION, {});
    assert.equal(stored.executionMetadata?.worker, 'hoard');
    assert.ok((await store.getBytes(acKey(ACTION)))!.byteLength > 0);
  });
});

describe('CacheService raw AC entries', () => {
  it('stores any bytes, serves them whole, counts reads and size lookups', async () => {
    const { cache, lookups } = setup();
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x01]);
    await cache.putRawActionResult('ccache', ACTION, bytes, { size: bytes.length });
    const entry = await cache.getRawActionResult('ccache', ACTION, { protocol: 'bazel-http' });
    assert.deepEqual(entry?.bytes ?? (await buffer(entry!.stream)), bytes);
    entry?.stream.destroy();
    assert.equal(await cache.statRawActionResult('ccache', ACTION, { protocol: 'bazel-http' }), 4);
    assert.equal(await cache.getRawActionResult('', ACTION, { protocol: 'bazel-http' }), undefined);
    assert.equal(await cache.statRawActionResult('', ACTION, { protocol: 'bazel-http' }), undefined);
    assert.deepEqual(lookups, ['bazel-http ac hit', 'bazel-http ac hit', 'bazel-http ac miss', 'bazel-http ac miss']);
  });

  it('holds a raw put to its declared size and bound', async () => {
    const { cache } = setup();
    await assert.rejects(
      cache.putRawActionResult('', ACTION, Buffer.alloc(10), { size: 10, maxBytes: 5 }),
      (err: unknown) => isHoardError(err, 'too_large'),
    );
    await assert.rejects(cache.putRawActionResult('', ACTION, Buffer.alloc(10), { size: 9 }), (err: unknown) =>
      isHoardError(err, 'size_mismatch'),
    );
  });
});
