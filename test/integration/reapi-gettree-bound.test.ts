// GetTree walks at most 100,000 directories per call (rule 7: a request's work is bounded):
// a tree of 100,001 present directories ends RESOURCE_EXHAUSTED, naming the bound, and the
// server keeps serving; one of exactly 100,000 is walked whole.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { casKey } from '../../src/core/keys.ts';
import { protoType, REAPI } from '../../src/core/proto.ts';
import { collect, sha256, startHarness } from './reapi-harness.ts';

test('GetTree over more than 100,000 directories is RESOURCE_EXHAUSTED; exactly 100,000 are walked whole', async () => {
  const h = await startHarness();
  try {
    const Directory = protoType(`${REAPI}.Directory`);
    const put = async (msg: object): Promise<{ hash: string; sizeBytes: number }> => {
      const bytes = Buffer.from(Directory.encode(msg).finish());
      const hash = sha256(bytes);
      await h.store.put(casKey(hash), bytes, { size: bytes.byteLength });
      return { hash, sizeBytes: bytes.byteLength };
    };
    // Distinct children: each holds one file named after its index (no blob needs to exist).
    const file = { hash: 'a'.repeat(64), sizeBytes: 1 };
    const children: { name: string; digest: { hash: string; sizeBytes: number } }[] = [];
    for (let i = 0; i < 100_000; i++)
      children.push({ name: `d${i}`, digest: await put({ files: [{ name: `f${i}`, digest: file }] }) });

    type Page = { directories: unknown[]; nextPageToken: string };
    // Root + 99,999 children = 100,000 directories: within the bound.
    const within = await put({ directories: children.slice(0, 99_999) });
    const pages = await collect<Page>(h.cas, 'GetTree', { rootDigest: within, pageSize: 10_000 }, 60_000);
    assert.equal(
      pages.reduce((n, p) => n + p.directories.length, 0),
      100_000,
    );

    // Root + 100,000 children = 100,001: one more than a call walks.
    const over = await put({ directories: children });
    const err = await collect<Page>(h.cas, 'GetTree', { rootDigest: over, pageSize: 10_000 }, 60_000).then(
      () => assert.fail('GetTree over the bound succeeded'),
      (e: ServiceError) => e,
    );
    assert.equal(err.code, status.RESOURCE_EXHAUSTED, err.message);
    assert.match(err.details, /more than 100000 directories/);
    assert.equal(
      (await collect<Page>(h.cas, 'GetTree', { rootDigest: children[0]!.digest })).length,
      1,
      'still serving',
    );
  } finally {
    await h.close();
  }
});
