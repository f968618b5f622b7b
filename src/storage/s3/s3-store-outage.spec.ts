// The bucket goes away mid-build: radosgw is killed while puts and reads are in flight, then
// brought back. Needs a cluster of its own (startCephRgw), as taking the run's shared
// gateway away would fail other files' tests.
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { buffer } from 'node:stream/consumers';
import { after, describe, it } from 'node:test';
import { ownRgwSkip, startCephRgw, uniqueBucketName } from '../../../test/helpers/ceph-rgw.ts';
import { digestOf } from '../../core/digest.ts';
import { isHoardError } from '../../core/errors.ts';
import { casKey, rawKey } from '../../core/keys.ts';
import { PART_BYTES } from './bucket-upload.ts';
import { objectKey } from './object-key.ts';
import { S3Store } from './s3-store.ts';

const skip = ownRgwSkip();

describe('S3Store when the bucket goes away mid-build', { skip }, () => {
  it('fails calls with unavailable while the gateway is down, publishes nothing half-sent, and recovers', async (t) => {
    const rgw = await startCephRgw();
    after(() => rgw.stop());
    const bucket = await rgw.createBucket(uniqueBucketName('outage'));
    const store = new S3Store({
      endpoint: rgw.endpoint,
      region: rgw.region,
      bucket,
      prefix: 'outage',
      forcePathStyle: true,
      credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
      requestTimeoutMs: 5_000,
    });
    t.after(() => store.close());
    const kept = randomBytes(2 * PART_BYTES + 99);
    const keptKey = casKey(digestOf(kept).hash);
    await store.put(keptKey, kept, { size: kept.length });

    // A read and a put in flight when the gateway dies. The read has its first bytes and is
    // not read further until then: 16 MiB do not fit in the sockets' buffers.
    const reading = await store.get(keptKey);
    assert.ok(reading);
    await once(reading.stream, 'readable');
    reading.stream.pause();
    const big = randomBytes(3 * PART_BYTES);
    const bigKey = casKey(digestOf(big).hash);
    let sent = 0;
    async function* slowly() {
      for (let i = 0; i < big.length; i += 1024 * 1024) {
        sent += 1024 * 1024;
        yield big.subarray(i, i + 1024 * 1024);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    // Its outcome is read at once: it may fail while the gateway is still being stopped.
    const putting = store.put(bigKey, slowly(), { size: big.length }).then(
      () => assert.fail('the put in flight succeeded without the gateway'),
      (e: unknown) => e,
    );
    while (sent < PART_BYTES + 2 * 1024 * 1024) await new Promise((r) => setTimeout(r, 10));
    await rgw.stopGateway();

    const failed = await putting;
    assert.ok(isHoardError(failed, 'unavailable'), `the put in flight fails: ${String(failed)}`);
    // The read either finished before the gateway died or fails: never a short body as whole.
    // The read in flight fails: it never ends early as if its bytes were whole.
    await assert.rejects(buffer(reading.stream), (e: unknown) => e instanceof Error);
    const t0 = performance.now();
    const down = (e: unknown) => isHoardError(e, 'unavailable');
    // A blob never seen by this process must be asked for, and that fails; one it saw a
    // moment ago is known present from memory (existence-cache.ts), without the bucket.
    const unseenKey = casKey(digestOf(Buffer.from('never seen by this process')).hash);
    await assert.rejects(store.has([unseenKey]), down);
    await assert.rejects(store.stat(unseenKey), down);
    assert.deepEqual(await store.has([keptKey]), [true]);
    await assert.rejects(store.get(keptKey), down);
    await assert.rejects(store.put(rawKey('while-down'), Buffer.from('x')), down);
    assert.ok(performance.now() - t0 < 5_000, `answered in ${Math.round(performance.now() - t0)} ms, not at a timeout`);

    await rgw.startGateway();
    assert.deepEqual(await store.getBytes(keptKey), kept, 'what was published before is still there');
    assert.deepEqual(await store.has([bigKey, rawKey('while-down')]), [false, false]);
    const client = rgw.client();
    try {
      await assert.rejects(
        client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey('outage', bigKey) })),
        (e: unknown) => (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404,
      );
    } finally {
      client.destroy();
    }
    assert.equal(await store.put(bigKey, big, { size: big.length }), 'created', 'the same put works again');
  });
});
