// Rule 1 regression (docs/CORRECTNESS.md#origin-unflushed-upload): hundreds of concurrent multi-chunk ByteStream uploads into the
// disk store, some of them of the same blob. Every WriteResponse must mean "published
// whole": a Read issued right after it returns the exact bytes, and no upload fails.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openDiskStore } from '../../src/storage/disk/disk-store.ts';
import { blob, chunks, readAll, readName, startHarness, uploadName, writeMessages } from './reapi-harness.ts';

test('256 distinct + 64 identical concurrent multi-chunk writes: zero failures, byte-exact reads right after each response', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hoard-reapi-concurrency-'));
  const store = await openDiskStore({ dir: path.join(dir, 'store'), maxBytes: 0, durability: 'fsync' });
  const h = await startHarness({ partialUploadDir: path.join(dir, 'partial') }, store);
  try {
    const distinct = Array.from({ length: 256 }, (_, i) => blob(100_000 + i * 97, 1000 + i));
    const shared = Array.from({ length: 8 }, (_, i) => blob(150_000, 5000 + i));
    const uploads = [...distinct, ...shared.flatMap((b) => [b, b, b, b, b, b, b, b])];
    const failures: string[] = [];
    await Promise.all(
      uploads.map(async (data, i) => {
        try {
          const committed = await writeMessages(h.bs, chunks(uploadName(data), data, { chunk: 16 * 1024 }));
          assert.equal(committed, data.byteLength);
          const back = await readAll(h.bs, readName(data));
          if (!back.equals(data)) failures.push(`#${i}: read ${back.byteLength} bytes that differ from the upload`);
        } catch (err) {
          failures.push(`#${i}: ${(err as Error).message}`);
        }
      }),
    );
    assert.deepEqual(failures, []);
    assert.equal(store.usage().entries, 256 + 8);
  } finally {
    await h.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
