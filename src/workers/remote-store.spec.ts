// The Store contract through the store channel: a RemoteStore over a MessageChannel whose
// other end serves a disk store, as a request thread reaches the store thread's (both ends
// run on this thread here; every call, body and entry still crosses as messages).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { storeConformance } from '../../test/conformance/store-conformance.ts';
import { storeAcrossThreads } from '../../test/helpers/store-across-threads.ts';
import { rawKey } from '../core/keys.ts';
import { openDiskStore } from '../storage/disk/disk-store.ts';
import { MemoryStore } from '../storage/memory-store.ts';

storeConformance('RemoteStore over a DiskStore', async ({ maxBytes }) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-remote-'));
  const disk = await openDiskStore({ dir, maxBytes, smallEntryBytes: 32 * 1024, segmentBytes: 48 * 1024 });
  return storeAcrossThreads(disk, { owns: true });
});

storeConformance('RemoteStore over a MemoryStore (entries that only stream)', async ({ maxBytes }) =>
  storeAcrossThreads(new MemoryStore({ maxBytes }), { owns: true }),
);

test("a request thread's usage() carries the store's figures per namespace", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-remote-'));
  const disk = await openDiskStore({
    dir,
    maxBytes: 0,
    durability: 'none',
    namespaceQuotas: [{ pattern: 'pr-*', bytes: 5000 }],
  });
  const remote = storeAcrossThreads(disk, { owns: true });
  try {
    await remote.put(rawKey('k', 'pr-1'), Buffer.alloc(1000));
    // Sent after every write and once a second; the store lists namespaces anew at most once a second.
    const deadline = Date.now() + 5000;
    while (remote.usage().namespaces?.length !== 1 && Date.now() < deadline) await sleep(50);
    assert.deepEqual(remote.usage().namespaces, [{ namespace: 'pr-1', bytes: 1000, entries: 1, quotaBytes: 5000 }]);
  } finally {
    await remote.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a body whose chunks are handed over crosses without copies: whole buffers move, views are copied', async () => {
  const memory = new MemoryStore({ maxBytes: 0 });
  const remote = storeAcrossThreads(memory, { owns: true });
  try {
    const whole = [Buffer.alloc(40_000, 1), Buffer.alloc(40_000, 2)].map((b) => new Uint8Array(b.buffer.slice(0)));
    const backing = new Uint8Array(50_000).fill(3);
    const view = backing.subarray(1000, 41_000);
    const expected = Buffer.concat([whole[0]!, whole[1]!, view]);
    async function* body() {
      yield* whole;
      yield view;
    }
    await remote.put(rawKey('moved'), body(), { size: expected.length, handsOverChunks: true });
    assert.deepEqual(await remote.getBytes(rawKey('moved')), expected);
    // The whole buffers now belong to the store's side; the view's buffer is still the caller's.
    assert.deepEqual(
      whole.map((c) => c.byteLength),
      [0, 0],
    );
    assert.equal(backing.byteLength, 50_000);
    assert.equal(backing[40_999], 3);

    // Without the promise, even whole buffers are copied.
    const kept = new Uint8Array(70_000).fill(4);
    await remote.put(
      rawKey('copied'),
      (async function* () {
        yield kept;
      })(),
      { size: kept.length },
    );
    assert.equal(kept.byteLength, 70_000);
    assert.deepEqual(await remote.getBytes(rawKey('copied')), Buffer.from(kept));
  } finally {
    await remote.close();
  }
});
