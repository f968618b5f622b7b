// The stack a server with a bucket runs on: the disk in front of an S3 bucket (a real one:
// the run's Ceph RGW, or this file's own), through the one conformance suite, plus what the
// bucket adds: a second disk over the same bucket reads what the first one wrote.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, describe, it } from 'node:test';
import { storeConformance } from '../../../test/conformance/store-conformance.ts';
import { rgwForFile, uniqueBucketName } from '../../../test/helpers/ceph-rgw.ts';
import { digestOf } from '../../core/digest.ts';
import { casKey } from '../../core/keys.ts';
import { openDiskStore } from '../disk/disk-store.ts';
import { ReadThroughStore } from '../read-through-store.ts';
import { S3Store } from './s3-store.ts';

const fixture = await rgwForFile();
after(() => fixture.release());
const rgw = fixture.rgw;
const bucket = rgw ? await rgw.createBucket(uniqueBucketName('disk-over-s3')) : '';
const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
let prefixes = 0;

function bucketTier(prefix: string): S3Store {
  return new S3Store({
    endpoint: rgw!.endpoint,
    region: rgw!.region,
    bucket,
    prefix,
    forcePathStyle: true,
    credentials: { accessKeyId: rgw!.accessKeyId, secretAccessKey: rgw!.secretAccessKey },
  });
}

/** A fresh disk in front of `prefix` of this file's bucket (a fresh prefix by default). */
async function stack(maxBytes: number, prefix = `t${++prefixes}-${Date.now().toString(36)}`) {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-disk-over-s3-'));
  dirs.push(dir);
  const disk = await openDiskStore({ dir, maxBytes, durability: 'none', smallEntryBytes: 32 * 1024 });
  return new ReadThroughStore(
    { name: 'disk', kind: 'disk', store: disk },
    { name: 'bucket', kind: 's3', store: bucketTier(prefix) },
  );
}

if (rgw) {
  storeConformance('ReadThroughStore (disk over S3 on Ceph RGW)', ({ maxBytes }) => stack(maxBytes), {
    oneLru: false,
    bounded: false,
  });
}

describe('disk over S3: the bucket is shared', { skip: fixture.skip }, () => {
  it('serves from a second disk what the first one wrote, filling the second disk', async () => {
    const prefix = `shared-${Date.now().toString(36)}`;
    const first = await stack(0, prefix);
    const second = await stack(0, prefix);
    try {
      const data = randomBytes(3 * 1024 * 1024);
      const k = casKey(digestOf(data).hash);
      assert.equal(await first.put(k, data, { size: data.length }), 'created');
      const entry = await second.get(k);
      assert.ok(entry);
      assert.deepEqual(await buffer(entry.stream), data);
      const usage = second.usage();
      assert.equal(usage.tiers?.[0]?.name, 'disk');
      assert.equal(usage.tiers?.[1]?.kind, 's3');
      assert.equal(await second.put(k, data, { size: data.length }), 'exists');
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
