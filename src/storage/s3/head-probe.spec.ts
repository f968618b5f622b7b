// HeadProbe against a real S3 endpoint (the run's shared Ceph RGW, or one of this file's own):
// it must answer exactly what HeadObject through the SDK answers for the keys hoard writes
// (percent signs, spaces and non-ASCII in prefixes and namespaces included), and hand
// everything it cannot answer plainly back to the SDK rather than guess.
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { freePort, rgwForFile, uniqueBucketName } from '../../../test/helpers/ceph-rgw.ts';
import { casKey, rawKey } from '../../core/keys.ts';
import { HeadProbe, type HeadProbeOptions } from './head-probe.ts';
import { objectKey } from './object-key.ts';

const fixture = await rgwForFile();
after(() => fixture.release());
const rgw = fixture.rgw;
const bucket = rgw ? await rgw.createBucket(uniqueBucketName('head-probe')) : '';

function probeFor(overrides: Partial<HeadProbeOptions> = {}): HeadProbe {
  const probe = new HeadProbe({
    endpoint: rgw!.endpoint,
    region: rgw!.region,
    bucket,
    forcePathStyle: true,
    credentials: async () => ({ accessKeyId: rgw!.accessKeyId, secretAccessKey: rgw!.secretAccessKey }),
    sha256: new S3Client({ region: rgw!.region }).config.sha256,
    requestTimeoutMs: 5_000,
    ...overrides,
  });
  after(() => probe.close());
  return probe;
}

describe('HeadProbe', { skip: fixture.skip }, () => {
  it('answers what the SDK answers, for keys with every kind of character hoard spells out', async () => {
    const client = rgw!.client();
    after(() => client.destroy());
    const names = [
      objectKey('plain', casKey('ab'.repeat(32))),
      objectKey('with space/and+plus', rawKey('id with %41 and ü and (parens)*!', 'team/a b')),
      objectKey("odd'~prefix.", rawKey('~tilde_and_under', 'ns%2F')),
    ];
    for (const [i, name] of names.entries()) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: name, Body: Buffer.alloc(100 + i, i) }));
    }
    const probe = probeFor();
    for (const [i, name] of names.entries()) {
      const sdk = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: name }));
      assert.equal(sdk.ContentLength, 100 + i);
      const probed = await probe.head(name);
      assert.equal(probed?.size, 100 + i, name);
      assert.equal(probed?.lastModified, sdk.LastModified?.getTime(), `${name}: Last-Modified`);
      assert.equal(await probe.head(`${name}x`), null, `${name}x is absent`);
    }
    assert.equal(probe.enabled, true);
  });

  it('leaves to the SDK what it cannot answer plainly: wrong credentials, no server, an aborted call', async () => {
    const name = objectKey('plain', casKey('cd'.repeat(32)));
    const wrongKey = probeFor({
      credentials: async () => ({ accessKeyId: rgw!.accessKeyId, secretAccessKey: 'not-the-secret' }),
    });
    assert.equal(await wrongKey.head(name), undefined, '403 is not an answer');
    const noCredentials = probeFor({
      credentials: () => Promise.reject(new Error('no credentials in this test')),
    });
    assert.equal(await noCredentials.head(name), undefined);
    const closed = probeFor({ endpoint: `http://127.0.0.1:${await freePort()}` });
    assert.equal(await closed.head(name), undefined, 'a refused connection is not an answer');
    const aborted = AbortSignal.abort();
    assert.equal(await probeFor().head(name, aborted), undefined);
  });

  it('turns itself off once the SDK keeps answering what it doubted', () => {
    const probe = probeFor();
    for (let i = 0; i < 3; i++) {
      assert.equal(probe.enabled, true);
      probe.doubtResolved();
    }
    assert.equal(probe.enabled, false);
  });
});
