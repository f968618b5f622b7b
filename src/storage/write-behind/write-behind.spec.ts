// Write-behind to a slower tier, over memory tiers: acknowledged before the slow tier has
// it, sent afterwards, kept queued through failures and restarts; an action-cache entry
// reaches the slow tier only after every blob it references (rule 6 across tiers).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { referencedBlobs } from '../../cache/action-refs.ts';
import { digestOf, type Digest } from '../../core/digest.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { acKey, casKey, keyString, rawKey, type Key } from '../../core/keys.ts';
import { protoType, REAPI } from '../../core/proto.ts';
import { MemoryStore } from '../memory-store.ts';
import { ReadThroughStore } from '../read-through-store.ts';
import type { Body, PutOptions, PutOutcome } from '../store.ts';
import { WriteBehind, type WriteBehindOptions } from './write-behind.ts';

/** A bucket stand-in that records the order puts land in, can fail, and can hold puts. */
class RecordingStore extends MemoryStore {
  readonly landed: string[] = [];
  failing = false;
  #hold: Promise<void> | undefined;
  #release: (() => void) | undefined;

  hold(): void {
    this.#hold = new Promise((resolve) => (this.#release = resolve));
  }

  release(): void {
    this.#release?.();
    this.#hold = undefined;
  }

  override async has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    if (this.failing) throw new HoardError(ErrorCode.Unavailable, 'the bucket is down');
    return super.has(keys, sizes);
  }

  override async put(key: Key, body: Body, options?: PutOptions): Promise<PutOutcome> {
    await this.#hold;
    if (this.failing) throw new HoardError(ErrorCode.Unavailable, 'the bucket is down');
    const outcome = await super.put(key, body, options);
    this.landed.push(keyString(key));
    return outcome;
  }
}

let dir: string;
beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'hoard-wb-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

async function stack(
  fast: MemoryStore,
  slow: RecordingStore,
  bounds: { maxEntries?: number } = {},
  extra: Pick<WriteBehindOptions, 'logger' | 'onDelivered'> = {},
) {
  const writeBehind = await WriteBehind.open({
    ...extra,
    dir,
    source: fast,
    target: slow,
    referencesOf: referencedBlobs,
    maxEntries: bounds.maxEntries ?? 1000,
    maxBytes: 1 << 30,
    sync: false,
    retryMs: 10,
    patienceMs: 300,
  });
  const store = new ReadThroughStore(
    { name: 'disk', kind: 'memory', store: fast },
    { name: 'bucket', kind: 'memory', store: slow },
    { writeBehind },
  );
  return { store, writeBehind };
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const blob = (text: string) => {
  const data = Buffer.from(text);
  return { data, d: digestOf(data), key: casKey(digestOf(data).hash) };
};

const encode = (type: string, value: object): Buffer => {
  const t = protoType(`${REAPI}.${type}`);
  return Buffer.from(t.encode(t.create(value)).finish());
};
const pb = (d: Digest) => ({ hash: d.hash, sizeBytes: d.sizeBytes });

test('a put is acknowledged before the slow tier has it, and reaches it afterwards', async () => {
  const fast = new MemoryStore();
  const slow = new RecordingStore();
  slow.hold();
  const { store, writeBehind } = await stack(fast, slow);
  const b = blob('written behind');
  assert.equal(await store.put(b.key, b.data, { size: b.data.length }), 'created');
  assert.equal(writeBehind.pending, 1);
  assert.deepEqual(await slow.has([b.key]), [false]);
  assert.equal(store.usage().tiers?.[1]?.pending, 1, 'the bucket tier reports its queue');
  slow.release();
  await until(() => writeBehind.pending === 0, 'the queue drained');
  assert.deepEqual(await slow.getBytes(b.key), b.data);
  assert.equal(writeBehind.stats().uploaded, 1);
  await store.close();
});

test('uploads that fail stay queued and land once the slow tier is back', async () => {
  const fast = new MemoryStore();
  const slow = new RecordingStore();
  slow.failing = true;
  const { store, writeBehind } = await stack(fast, slow);
  const blobs = ['one', 'two', 'three'].map(blob);
  for (const b of blobs) await store.put(b.key, b.data, { size: b.data.length });
  await until(() => writeBehind.stats().failures >= 3, 'uploads failed');
  assert.equal(writeBehind.pending, 3);
  slow.failing = false;
  await until(() => writeBehind.pending === 0, 'the queue drained');
  for (const b of blobs) assert.deepEqual(await slow.getBytes(b.key), b.data);
  await store.close();
});

test('an outage is logged when uploads start failing and when they succeed again, not once per entry', async () => {
  const fast = new MemoryStore();
  const slow = new RecordingStore();
  slow.failing = true;
  const logged: { msg: string; obj: Record<string, unknown> }[] = [];
  let delivered = 0;
  const { store, writeBehind } = await stack(
    fast,
    slow,
    {},
    {
      logger: { warn: (obj, msg) => logged.push({ msg, obj: obj as Record<string, unknown> }) },
      onDelivered: () => delivered++,
    },
  );
  const blobs = Array.from({ length: 20 }, (_, i) => blob(`outage ${i}`));
  for (const b of blobs) await store.put(b.key, b.data, { size: b.data.length });
  await until(() => writeBehind.stats().failures >= 60, 'every entry failed a few times');
  assert.deepEqual(
    logged.map((l) => l.msg),
    ['uploads to the bucket fail: the entries stay queued and are retried'],
  );
  assert.equal(logged[0]!.obj['message'], 'the bucket is down');
  assert.equal(delivered, 0);
  slow.failing = false;
  await until(() => writeBehind.pending === 0, 'the queue drained');
  assert.equal(logged.length, 2);
  assert.equal(logged[1]!.msg, 'uploads to the bucket succeed again');
  assert.ok((logged[1]!.obj['failures'] as number) >= 60, JSON.stringify(logged[1]));
  assert.equal(delivered, blobs.length, 'each entry that reached the bucket is told');
  await store.close();
});

test('entries still queued at a stop are sent after the next start', async () => {
  const fast = new MemoryStore();
  const slow = new RecordingStore();
  slow.failing = true;
  const first = await stack(fast, slow);
  const b = blob('queued across a restart');
  const raw = { key: rawKey('nx:0123', 'team'), data: Buffer.from('a raw entry') };
  await first.store.put(b.key, b.data, { size: b.data.length });
  await first.store.put(raw.key, raw.data, { size: raw.data.length });
  // Stop the uploader and the queue, not the tiers (they stand for a disk that survives).
  await first.writeBehind.close();
  slow.failing = false;
  const second = await stack(fast, slow);
  assert.equal(second.writeBehind.pending, 2);
  await until(() => second.writeBehind.pending === 0, 'the queue drained after the restart');
  assert.deepEqual(await slow.getBytes(b.key), b.data);
  assert.deepEqual(await slow.getBytes(raw.key), raw.data);
  await second.store.close();
});

test('an action-cache entry lands after every blob it references, trees and their files included', async () => {
  const fast = new MemoryStore();
  const slow = new RecordingStore();
  slow.hold();
  const { store, writeBehind } = await stack(fast, slow);
  const out = blob('compiled output');
  const inTree = blob('a file inside an output directory');
  const treeData = encode('Tree', { root: { files: [{ name: 'f.txt', digest: pb(inTree.d) }] } });
  const treeKey = casKey(digestOf(treeData).hash);
  const ac = acKey('a'.repeat(64));
  const result = encode('ActionResult', {
    outputFiles: [{ path: 'out', digest: pb(out.d) }],
    outputDirectories: [{ path: 'dir', treeDigest: pb(digestOf(treeData)) }],
  });
  // The client uploads the AC entry first, then its blobs: the bucket must still get it last.
  await store.put(ac, result, { size: result.length });
  await store.put(out.key, out.data, { size: out.data.length });
  await store.put(treeKey, treeData, { size: treeData.length });
  await store.put(inTree.key, inTree.data, { size: inTree.data.length });
  slow.release();
  await until(() => writeBehind.pending === 0, 'the queue drained');
  const order = slow.landed;
  const acAt = order.indexOf(keyString(ac));
  assert.ok(acAt >= 0, 'the AC entry landed');
  for (const k of [out.key, treeKey, inTree.key]) {
    const at = order.indexOf(keyString(k));
    assert.ok(at >= 0 && at < acAt, `${k.id} landed before the AC entry: ${order.join(', ')}`);
  }
  await store.close();
});

test('blobs the client never uploaded (the fast tier had them) are sent before the entry that needs them', async () => {
  const fast = new MemoryStore();
  const slow = new RecordingStore();
  const { store, writeBehind } = await stack(fast, slow);
  const out = blob('already local before the bucket was configured');
  await fast.put(out.key, out.data, { size: out.data.length }); // not through the stack: not queued
  const ac = acKey('b'.repeat(64));
  const result = encode('ActionResult', { outputFiles: [{ path: 'out', digest: pb(out.d) }] });
  await store.put(ac, result, { size: result.length });
  await until(() => writeBehind.pending === 0, 'the queue drained');
  assert.deepEqual(await slow.getBytes(out.key), out.data);
  assert.ok(slow.landed.indexOf(keyString(out.key)) < slow.landed.indexOf(keyString(ac)));
  await store.close();
});

test('an action-cache entry whose outputs are in neither tier never reaches the slow tier', async () => {
  const fast = new MemoryStore();
  const slow = new RecordingStore();
  const { store, writeBehind } = await stack(fast, slow);
  const gone = digestOf(Buffer.from('an output nobody has'));
  const ac = acKey('c'.repeat(64));
  const result = encode('ActionResult', { outputFiles: [{ path: 'out', digest: pb(gone) }] });
  await store.put(ac, result, { size: result.length });
  await until(() => writeBehind.pending === 0, 'the queue drained');
  assert.deepEqual(await slow.has([ac]), [false]);
  assert.equal(writeBehind.stats().incomplete, 1);
  await store.close();
});

test('an entry the fast tier evicted before its upload is counted lost, not retried forever', async () => {
  const fast = new MemoryStore();
  const slow = new RecordingStore();
  slow.hold();
  const { store, writeBehind } = await stack(fast, slow);
  const b = blob('evicted early');
  await store.put(b.key, b.data, { size: b.data.length });
  await fast.delete(b.key);
  slow.release();
  await until(() => writeBehind.pending === 0, 'the queue drained');
  assert.equal(writeBehind.stats().lost, 1);
  await store.close();
});

test('a full queue holds puts back until uploads make room: none is dropped', async () => {
  const fast = new MemoryStore();
  const slow = new RecordingStore();
  slow.hold();
  const { store, writeBehind } = await stack(fast, slow, { maxEntries: 2 });
  const blobs = ['p1', 'p2', 'p3', 'p4'].map(blob);
  let acknowledged = 0;
  const puts = blobs.map((b) => store.put(b.key, b.data, { size: b.data.length }).then(() => acknowledged++));
  await until(() => acknowledged === 2, 'two puts were acknowledged');
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(acknowledged, 2, 'the others wait for room');
  slow.release();
  await Promise.all(puts);
  await until(() => writeBehind.pending === 0, 'the queue drained');
  for (const b of blobs) assert.deepEqual(await slow.getBytes(b.key), b.data);
  await store.close();
});
