// S3Store against a real S3 endpoint: the Ceph RGW the run shares (test/global-setup.ts), or
// one of this file's own when it runs alone. Each store the tests make gets a prefix of its
// own in this file's bucket, so they start empty and never see each other's objects.
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { storeConformance } from '../../../test/conformance/store-conformance.ts';
import { freePort, rgwForFile, uniqueBucketName, type RgwFixture } from '../../../test/helpers/ceph-rgw.ts';
import { digestOf } from '../../core/digest.ts';
import { isHoardError } from '../../core/errors.ts';
import { acKey, casKey, rawKey, type Key } from '../../core/keys.ts';
import { PART_BYTES } from './bucket-upload.ts';
import { objectKey } from './object-key.ts';
import { S3Store, type S3StoreOptions } from './s3-store.ts';

const fixture = await rgwForFile();
after(() => fixture.release());
const skip = fixture.skip;
const rgw = fixture.rgw;
const bucket = rgw ? await rgw.createBucket(uniqueBucketName('s3-store')) : '';
let prefixes = 0;

function optionsFor(r: RgwFixture, prefix: string): S3StoreOptions {
  return {
    endpoint: r.endpoint,
    region: r.region,
    bucket,
    prefix,
    forcePathStyle: true,
    credentials: { accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey },
  };
}

/** A store over a fresh prefix of this file's bucket. */
function freshStore(): { store: S3Store; prefix: string } {
  const prefix = `t${++prefixes}-${Date.now().toString(36)}`;
  return { store: new S3Store(optionsFor(rgw!, prefix)), prefix };
}

if (rgw) {
  storeConformance('S3Store (Ceph RGW)', async () => freshStore().store, { oneLru: false, bounded: false });
}

async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** The bucket's objects and unfinished multipart uploads under `prefix`, asked directly. */
async function leftovers(client: S3Client, prefix: string): Promise<{ objects: string[]; uploads: string[] }> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${prefix}/` }));
  return {
    objects: (listed.Contents ?? []).map((o) => o.Key ?? ''),
    uploads: (uploads.Uploads ?? []).map((u) => u.Key ?? ''),
  };
}

async function headStatus(client: S3Client, key: string): Promise<number> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return 200;
  } catch (err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
  }
}

describe('S3Store (Ceph RGW): what the conformance suite does not cover', { skip }, () => {
  let client: S3Client;
  before(() => {
    client = rgw!.client();
  });
  after(() => client.destroy());

  it('round-trips a multipart-sized CAS blob byte for byte, and ranges across its parts', async () => {
    const { store, prefix } = freshStore();
    try {
      const data = randomBytes(2 * PART_BYTES + 4 * 1024 * 1024 + 123);
      const d = digestOf(data);
      assert.equal(await store.put(casKey(d.hash), chunked(data, 256 * 1024), { size: d.sizeBytes }), 'created');
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(prefix, casKey(d.hash)) }));
      assert.match(head.ETag ?? '', /-3"?$/, 'three parts: 8 MiB, 8 MiB and the rest');
      const entry = await store.get(casKey(d.hash));
      assert.ok(entry);
      assert.equal(entry.size, data.length);
      const back = await buffer(entry.stream);
      assert.equal(createHash('sha256').update(back).digest('hex'), d.hash);
      const from = PART_BYTES - 10;
      const ranged = await store.get(casKey(d.hash), { offset: from, limit: 20 });
      assert.equal(ranged?.size, data.length, 'size is the whole entry for a range too');
      assert.deepEqual(await buffer(ranged!.stream), data.subarray(from, from + 20));
      assert.equal(await store.put(casKey(d.hash), chunked(data, 1024 * 1024), { size: d.sizeBytes }), 'exists');
      assert.deepEqual(await leftovers(client, prefix).then((l) => l.uploads), []);
    } finally {
      await store.close();
    }
  });

  it('leaves no object and no multipart upload behind a CAS put whose bytes do not match', async () => {
    const { store, prefix } = freshStore();
    try {
      const good = randomBytes(PART_BYTES * 2 + 1000);
      const d = digestOf(good);
      const forged = Buffer.from(good);
      forged[forged.length - 1]! ^= 1; // the last byte: every part has gone up before the verdict
      await assert.rejects(store.put(casKey(d.hash), chunked(forged, 65_536), { size: d.sizeBytes }), (e) =>
        isHoardError(e, 'digest_mismatch'),
      );
      const small = Buffer.from('small and wrong');
      await assert.rejects(store.put(casKey(digestOf(Buffer.from('right')).hash), small, { size: small.length }), (e) =>
        isHoardError(e, 'digest_mismatch'),
      );
      assert.equal(await headStatus(client, objectKey(prefix, casKey(d.hash))), 404);
      assert.deepEqual(await leftovers(client, prefix), { objects: [], uploads: [] });
    } finally {
      await store.close();
    }
  });

  it('leaves nothing behind a body cut after some parts went up, nor behind a cancelled put', async () => {
    const { store, prefix } = freshStore();
    try {
      const data = randomBytes(PART_BYTES * 3);
      const d = digestOf(data);
      async function* cut() {
        yield* chunked(data.subarray(0, PART_BYTES * 2 + 5), 1024 * 1024);
        throw Object.assign(new Error('client went away'), { code: 'ECONNRESET' });
      }
      await assert.rejects(store.put(casKey(d.hash), cut(), { size: d.sizeBytes }), (e) => isHoardError(e, 'aborted'));
      const cancel = new AbortController();
      async function* slow() {
        yield data.subarray(0, PART_BYTES + 1);
        cancel.abort();
        yield data.subarray(PART_BYTES + 1, PART_BYTES + 2);
      }
      await assert.rejects(store.put(rawKey('cancelled'), slow(), { size: data.length, signal: cancel.signal }), (e) =>
        isHoardError(e, 'aborted'),
      );
      assert.deepEqual(await leftovers(client, prefix), { objects: [], uploads: [] });
      assert.equal(await store.put(casKey(d.hash), chunked(data, 1024 * 1024), { size: d.sizeBytes }), 'created');
    } finally {
      await store.close();
    }
  });

  it('keeps every namespace and id apart, the default namespace and long or odd ids included', async () => {
    const { store, prefix } = freshStore();
    try {
      const long = 'é'.repeat(512); // 1024 bytes: spelled out it would be far over S3's key limit
      const keys: Key[] = [
        rawKey('x'),
        rawKey('x', '_'),
        rawKey('x', '/'),
        rawKey('x', 'a/b'),
        rawKey('x', 'a%2Fb'),
        rawKey('x', '..'),
        rawKey('x', long),
        rawKey('../x'),
        rawKey('x/'),
        rawKey('~x'),
        rawKey('%78'),
        rawKey(long),
        rawKey(`${long.slice(0, 511)}è`),
        acKey('x'),
      ];
      const names = keys.map((k) => objectKey(prefix, k));
      assert.equal(new Set(names).size, keys.length, names.join('\n'));
      for (const n of names) assert.ok(Buffer.byteLength(n) <= 1024, n);
      await Promise.all(keys.map((k, i) => store.put(k, Buffer.from(`value ${i}`))));
      for (const [i, k] of keys.entries()) assert.equal((await store.getBytes(k))?.toString(), `value ${i}`);
      const { objects } = await leftovers(client, prefix);
      assert.deepEqual(objects.sort(), [...names].sort());
    } finally {
      await store.close();
    }
  });

  it('keeps streaming an entry deleted or replaced after its read began', async () => {
    const { store } = freshStore();
    try {
      const first = randomBytes(3 * 1024 * 1024);
      await store.put(rawKey('moving'), first);
      const entry = await store.get(rawKey('moving'));
      assert.ok(entry);
      await store.put(rawKey('moving'), Buffer.from('replaced'));
      assert.equal(await store.delete(rawKey('moving')), true);
      assert.deepEqual(await buffer(entry.stream), first);
      assert.equal(await store.stat(rawKey('moving')), undefined);
    } finally {
      await store.close();
    }
  });

  it('refuses wrong credentials with its own message, without the secret', async () => {
    const secret = `not-the-secret-${randomBytes(8).toString('hex')}`;
    const options = {
      ...optionsFor(rgw!, 'creds'),
      credentials: { accessKeyId: rgw!.accessKeyId, secretAccessKey: secret },
    };
    const refused = (e: unknown) => {
      assert.ok(isHoardError(e, 'unavailable'), String(e));
      assert.match(e.message, /refused hoard's credentials \((SignatureDoesNotMatch|InvalidAccessKeyId|HTTP 403)\)/);
      assert.ok(!inspect(e, { depth: 10 }).includes(secret), 'the secret is nowhere in the error');
      return true;
    };
    const store = new S3Store(options);
    try {
      await assert.rejects(store.check(), refused);
      const data = Buffer.from('credentials');
      await assert.rejects(store.put(casKey(digestOf(data).hash), data, { size: data.length }), refused);
      await assert.rejects(store.get(rawKey('x')), refused);
      await assert.rejects(store.has([rawKey('x')]), refused);
      const unknownKey = new S3Store({ ...options, credentials: { accessKeyId: 'nobody', secretAccessKey: secret } });
      await assert.rejects(unknownKey.getBytes(rawKey('x')), (e) => {
        refused(e);
        return /InvalidAccessKeyId/.test((e as Error).message);
      });
      await unknownKey.close();
    } finally {
      await store.close();
    }
  });

  it('fails fast with unavailable when nothing listens at the endpoint, and when the bucket is missing', async () => {
    const port = await freePort();
    const store = new S3Store({ ...optionsFor(rgw!, 'closed'), endpoint: `http://127.0.0.1:${port}` });
    try {
      const t0 = performance.now();
      await assert.rejects(
        store.stat(rawKey('x')),
        (e) => isHoardError(e, 'unavailable') && /ECONNREFUSED/.test(e.message),
      );
      await assert.rejects(store.put(rawKey('x'), Buffer.from('x')), (e) => isHoardError(e, 'unavailable'));
      assert.ok(performance.now() - t0 < 5_000, `failed in ${Math.round(performance.now() - t0)} ms`);
    } finally {
      await store.close();
    }
    const missing = new S3Store({ ...optionsFor(rgw!, 'x'), bucket: uniqueBucketName('missing') });
    try {
      await assert.rejects(missing.check(), (e) => isHoardError(e, 'unavailable') && /does not exist/.test(e.message));
    } finally {
      await missing.close();
    }
  });

  it('answers exists when another process published the blob while this put was receiving it', async () => {
    const { store: slow, prefix } = freshStore();
    const fast = new S3Store(optionsFor(rgw!, prefix)); // another hoard over the same bucket
    try {
      const data = randomBytes(1024 * 1024);
      const d = digestOf(data);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      async function* heldBack() {
        yield data.subarray(0, 1000);
        await held; // slow has asked HeadObject (absent) and is receiving
        yield data.subarray(1000);
      }
      const slowPut = slow.put(casKey(d.hash), heldBack(), { size: data.length });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await fast.put(casKey(d.hash), data, { size: data.length }), 'created');
      release();
      assert.equal(await slowPut, 'exists', 'If-None-Match: * answered 412');
      assert.deepEqual(await slow.getBytes(casKey(d.hash)), data);
    } finally {
      await Promise.all([slow.close(), fast.close()]);
    }
  });

  it('answers an object another writer put there, and a missing one, like its own', async () => {
    const { store, prefix } = freshStore();
    try {
      const data = Buffer.from('written by someone else');
      const d = digestOf(data);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey(prefix, casKey(d.hash)), Body: data }));
      assert.deepEqual(await store.has([casKey(d.hash), casKey(d.hash)], [data.length, 1]), [true, false]);
      assert.equal(await store.put(casKey(d.hash), data, { size: data.length }), 'exists');
      assert.equal(await store.delete(rawKey('never')), false);
    } finally {
      await store.close();
    }
  });

  it('answers a deleted blob as absent at once, not from its memory of it', async () => {
    const { store } = freshStore();
    try {
      const data = Buffer.from('deleted soon');
      const key = casKey(digestOf(data).hash);
      await store.put(key, data, { size: data.length });
      assert.deepEqual(await store.has([key]), [true]);
      assert.equal(await store.delete(key), true);
      assert.deepEqual(await store.has([key]), [false]);
      assert.equal(await store.stat(key), undefined);
    } finally {
      await store.close();
    }
  });

  it('replaces bytes of another size found under a CAS key by its one conditional PutObject', async () => {
    const { store, prefix } = freshStore();
    try {
      const data = Buffer.from('the real blob');
      const key = casKey(digestOf(data).hash);
      const name = objectKey(prefix, key);
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: name, Body: Buffer.from('torn') }));
      assert.equal(await store.put(key, data, { size: data.length }), 'created');
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: name }));
      assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), data);
    } finally {
      await store.close();
    }
  });

  it('renews an object older than refreshAfterMs when it is used, keeping its bytes, and leaves a young one', async () => {
    const prefix = `refresh-${Date.now().toString(36)}`;
    // S3's Last-Modified has whole seconds: the object must be over a second old to be due.
    const store = new S3Store({ ...optionsFor(rgw!, prefix), refreshAfterMs: 1000 });
    try {
      const data = Buffer.from('an output every build still fetches');
      const key = casKey(digestOf(data).hash);
      await store.put(key, data, { size: data.length });
      const name = objectKey(prefix, key);
      const modified = async () =>
        (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: name }))).LastModified!.getTime();
      const before = await modified();
      store.refresh!([key]);
      await store.refreshed();
      assert.deepEqual(store.refreshStats(), { checked: 1, renewed: 0, dropped: 0, failed: 0 }, 'young: only checked');
      await new Promise((r) => setTimeout(r, 2100));
      store.refresh!([key]);
      await store.refreshed();
      assert.deepEqual(store.refreshStats(), { checked: 2, renewed: 1, dropped: 0, failed: 0 });
      const after = await modified();
      assert.ok(
        after >= before + 2000,
        `Last-Modified moved on: ${new Date(before).toISOString()} -> ${new Date(after).toISOString()}`,
      );
      assert.deepEqual(await store.getBytes(key), data, 'the same bytes');
      // An odd raw key (percent signs, spaces) is copied onto itself at the right name too.
      const raw = rawKey('id with %41 and spaces', 'team/a b');
      await store.put(raw, data, { size: data.length });
      await new Promise((r) => setTimeout(r, 2100));
      store.refresh!([raw]);
      await store.refreshed();
      assert.equal(store.refreshStats()?.renewed, 2, JSON.stringify(store.refreshStats()));
      assert.deepEqual((await leftovers(client, prefix)).objects.sort(), [name, objectKey(prefix, raw)].sort());
    } finally {
      await store.close();
    }
  });
});
