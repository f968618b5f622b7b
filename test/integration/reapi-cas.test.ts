// ContentAddressableStorage: FindMissingBlobs at scale, per-item Batch* statuses, whole-
// request limits, digest_function handling, and GetTree paging.
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import protobuf from 'protobufjs';
import { casKey } from '../../src/core/keys.ts';
import { protoType, REAPI } from '../../src/core/proto.ts';
import { blob, codeOf, collect, sha256, startHarness, unary, type Harness } from './reapi-harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness({ maxBatchTotalSize: 1024 * 1024 });
});
after(() => h.close());

const EMPTY = { hash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', sizeBytes: 0 };
const dg = (b: Uint8Array): { hash: string; sizeBytes: number } => ({ hash: sha256(b), sizeBytes: b.byteLength });
type Missing = { missingBlobDigests: { hash: string }[] };
type Statuses = { responses: { status: { code: number; message: string }; data?: Uint8Array }[] };

test('FindMissingBlobs answers for 5,000 digests in one call; the empty blob is never missing', async () => {
  const blobs = Array.from({ length: 5000 }, (_, i) => blob(32, 100 + i));
  await Promise.all(
    blobs.filter((_, i) => i % 2 === 0).map((b) => h.store.put(casKey(sha256(b)), b, { size: b.byteLength })),
  );
  const res = await unary<Missing>(h.cas, 'FindMissingBlobs', {
    blobDigests: [...blobs.map(dg), EMPTY],
    digestFunction: 1,
  });
  const expected = blobs.filter((_, i) => i % 2 === 1).map((b) => sha256(b));
  assert.deepEqual(
    res.missingBlobDigests.map((d) => d.hash),
    expected,
  );
});

test('FindMissingBlobs reports a present hash with the wrong size as missing (the size is part of the digest)', async () => {
  const b = blob(64, 7);
  await h.store.put(casKey(sha256(b)), b, { size: b.byteLength });
  const res = await unary<Missing>(h.cas, 'FindMissingBlobs', {
    blobDigests: [dg(b), { hash: sha256(b), sizeBytes: 65 }],
  });
  assert.deepEqual(
    res.missingBlobDigests.map((d) => d.hash),
    [sha256(b)],
  );
  assert.equal(res.missingBlobDigests.length, 1);
});

test('FindMissingBlobs refuses malformed digests and unsupported digest functions by name', async () => {
  assert.equal(
    await codeOf(unary(h.cas, 'FindMissingBlobs', { blobDigests: [{ hash: 'xyz', sizeBytes: 1 }] })),
    status.INVALID_ARGUMENT,
  );
  assert.equal(
    await codeOf(unary(h.cas, 'FindMissingBlobs', { blobDigests: [{ hash: 'a'.repeat(64), sizeBytes: -1 }] })),
    status.INVALID_ARGUMENT,
  );
  const err = await unary(h.cas, 'FindMissingBlobs', { blobDigests: [], digestFunction: 9 }).catch(
    (e: { code: number; details: string }) => e,
  );
  assert.equal((err as { code: number }).code, status.INVALID_ARGUMENT);
  assert.match((err as { details: string }).details, /BLAKE3/);
});

test('BatchUpdateBlobs: each blob succeeds or fails on its own', async () => {
  const good = blob(1000, 1);
  const existing = blob(500, 2);
  await h.store.put(casKey(sha256(existing)), existing, { size: 500 });
  const res = await unary<Statuses>(h.cas, 'BatchUpdateBlobs', {
    requests: [
      { digest: dg(good), data: good },
      { digest: dg(blob(1000, 3)), data: blob(1000, 4) }, // digest mismatch
      { digest: { hash: sha256(good), sizeBytes: 999 }, data: good }, // wrong size
      { digest: { hash: 'nothex', sizeBytes: 3 }, data: Buffer.from('abc') },
      { digest: dg(existing), data: blob(500, 5) }, // wrong bytes for a present digest
      { digest: dg(existing), data: existing },
      { digest: EMPTY, data: Buffer.alloc(0) },
    ],
  });
  assert.deepEqual(
    res.responses.map((r) => r.status.code),
    [
      status.OK,
      status.INVALID_ARGUMENT,
      status.INVALID_ARGUMENT,
      status.INVALID_ARGUMENT,
      status.INVALID_ARGUMENT,
      status.OK,
      status.OK,
    ],
  );
  assert.ok(res.responses.slice(1, 5).every((r) => r.status.message.length > 10));
  assert.deepEqual(
    await h.store.has([casKey(sha256(good)), casKey(sha256(blob(1000, 3))), casKey(sha256(blob(1000, 4)))]),
    [true, false, false],
  );
});

test('Batch calls above max_batch_total_size_bytes are INVALID_ARGUMENT as a whole', async () => {
  const big = blob(600 * 1024, 6);
  const two = {
    requests: [
      { digest: dg(big), data: big },
      { digest: dg(big), data: big },
    ],
  };
  assert.equal(await codeOf(unary(h.cas, 'BatchUpdateBlobs', two)), status.INVALID_ARGUMENT);
  assert.equal(await codeOf(unary(h.cas, 'BatchReadBlobs', { digests: [dg(big), dg(big)] })), status.INVALID_ARGUMENT);
});

test('BatchReadBlobs: data for present blobs, NOT_FOUND per missing blob, empty blob always there', async () => {
  const a = blob(2000, 7);
  await h.store.put(casKey(sha256(a)), a, { size: 2000 });
  const res = await unary<Statuses>(h.cas, 'BatchReadBlobs', {
    digests: [dg(a), dg(blob(10, 8)), EMPTY, { hash: sha256(a), sizeBytes: 1999 }],
  });
  assert.deepEqual(
    res.responses.map((r) => r.status.code),
    [status.OK, status.NOT_FOUND, status.OK, status.INVALID_ARGUMENT],
  );
  assert.ok(Buffer.from(res.responses[0]!.data!).equals(a));
  assert.equal(res.responses[2]!.data!.length, 0);
});

test('GetTree streams every present directory once, in pages, resumable by page token', async () => {
  const Directory = protoType(`${REAPI}.Directory`);
  const put = async (msg: object): Promise<{ hash: string; sizeBytes: number }> => {
    const bytes = Buffer.from(Directory.encode(msg).finish());
    await h.store.put(casKey(sha256(bytes)), bytes, { size: bytes.byteLength });
    return dg(bytes);
  };
  const leaf = (n: string) => ({ files: [{ name: n, digest: dg(blob(5, n.length)) }] });
  const l1 = await put(leaf('a'));
  const l2 = await put(leaf('bb'));
  const l3 = await put(leaf('ccc'));
  const missing = { hash: 'f'.repeat(64), sizeBytes: 10 };
  const m1 = await put({
    directories: [
      { name: 'x', digest: l1 },
      { name: 'y', digest: l2 },
    ],
  });
  // 'wrong' names a stored directory with another size: not the directory it names, so
  // left out like 'gone'.
  const l4 = await put(leaf('dddd'));
  const m2 = await put({
    directories: [
      { name: 'gone', digest: missing },
      { name: 'x', digest: l1 },
      { name: 'z', digest: l3 },
      { name: 'wrong', digest: { hash: l4.hash, sizeBytes: l4.sizeBytes + 1 } },
    ],
  });
  const root = await put({
    directories: [
      { name: 'm1', digest: m1 },
      { name: 'm2', digest: m2 },
    ],
  });

  type Page = { directories: unknown[]; nextPageToken: string };
  const all = await collect<Page>(h.cas, 'GetTree', { rootDigest: root });
  assert.equal(all.length, 1);
  assert.equal(
    all[0]!.directories.length,
    6,
    'root, m1, m2, three leaves; the missing and the wrong-size ones left out',
  );
  assert.equal(all[0]!.nextPageToken, '');

  const paged = await collect<Page>(h.cas, 'GetTree', { rootDigest: root, pageSize: 4 });
  assert.deepEqual(
    paged.map((p) => p.directories.length),
    [4, 2],
  );
  assert.notEqual(paged[0]!.nextPageToken, '');
  const rest = await collect<Page>(h.cas, 'GetTree', {
    rootDigest: root,
    pageSize: 4,
    pageToken: paged[0]!.nextPageToken,
  });
  assert.deepEqual(
    rest.map((p) => p.directories.length),
    [2],
  );
  assert.deepEqual(rest[0]!.directories, paged[1]!.directories);

  assert.equal(await codeOf(collect(h.cas, 'GetTree', { rootDigest: missing })), status.NOT_FOUND);
  // A root stored with another size than its digest says: the digest is wrong (as Read answers).
  assert.equal(
    await codeOf(collect(h.cas, 'GetTree', { rootDigest: { hash: root.hash, sizeBytes: root.sizeBytes + 7 } })),
    status.INVALID_ARGUMENT,
  );
  assert.equal(
    await codeOf(collect(h.cas, 'GetTree', { rootDigest: root, pageToken: 'bogus' })),
    status.INVALID_ARGUMENT,
  );
  assert.equal(await codeOf(collect(h.cas, 'GetTree', { rootDigest: root, pageSize: -1 })), status.INVALID_ARGUMENT);
  assert.equal(
    await codeOf(collect(h.cas, 'GetTree', { rootDigest: root, digestFunction: 10 })),
    status.INVALID_ARGUMENT,
  );
});

test('GetTree returns stored Directory bytes unchanged (unknown fields, explicit defaults), so each hashes to its digest', async () => {
  const Directory = protoType(`${REAPI}.Directory`);
  // protobufjs would drop the explicit default and the unknown field when re-encoding.
  const withExtras = (msg: object): Buffer =>
    Buffer.concat([
      Buffer.from(Directory.encode(msg).finish()),
      Buffer.from([0x0a, 5, 0x0a, 1, 0x66, 0x20, 0x00]), // files { name: "f", is_executable: false }
      Buffer.from([0x98, 0x06, 0x07]), // unknown field 99 = 7
    ]);
  const leaf = withExtras({});
  await h.store.put(casKey(sha256(leaf)), leaf, { size: leaf.byteLength });
  const root = withExtras({ directories: [{ name: 'sub', digest: dg(leaf) }] });
  await h.store.put(casKey(sha256(root)), root, { size: root.byteLength });
  assert.notEqual(
    Buffer.from(Directory.encode(Directory.decode(root)).finish()).byteLength,
    root.byteLength,
    'protobufjs would change these bytes',
  );

  // A raw client, so the reply's embedded Directory bytes are seen as sent.
  const raw = new Client(h.server.address, credentials.createInsecure());
  try {
    const req = Buffer.from(
      protoType(`${REAPI}.GetTreeRequest`)
        .encode({ rootDigest: dg(root) })
        .finish(),
    );
    const replies = await new Promise<Buffer[]>((resolve, reject) => {
      const out: Buffer[] = [];
      const s = raw.makeServerStreamRequest(
        `/${REAPI}.ContentAddressableStorage/GetTree`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        req,
      );
      s.on('data', (b: Buffer) => out.push(b));
      s.on('error', (e: ServiceError) => reject(e));
      s.on('end', () => resolve(out));
    });
    const dirs: Buffer[] = [];
    for (const reply of replies) {
      const r = protobuf.Reader.create(reply);
      while (r.pos < r.len) {
        const tag = r.uint32();
        if (tag >>> 3 === 1) dirs.push(Buffer.from(r.bytes()));
        else r.skipType(tag & 7);
      }
    }
    assert.deepEqual(
      dirs.map((d) => d.toString('hex')),
      [root.toString('hex'), leaf.toString('hex')],
    );
  } finally {
    raw.close();
  }
});
