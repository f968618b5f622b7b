// The bucket goes away under a running server, on a Ceph RGW of this file's own
// (the run's shared gateway must never be stopped). While radosgw is down: uploads are
// still acknowledged and queue up, the disk still serves, and what only the bucket has is a
// quick miss (the circuit breaker), never a 5xx or a hang. When it is back, the queue drains
// and the bucket holds every acknowledged blob byte for byte, also across SIGKILLs of a
// `hoard serve` process with uploads still queued.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { digestOf } from '../../src/core/digest.ts';
import { casKey } from '../../src/core/keys.ts';
import { objectKey } from '../../src/storage/s3/object-key.ts';
import {
  bucketAccess,
  bucketTier,
  drained,
  NO_AWS_ENV,
  objectBytes,
  waitFor,
  type BucketAccess,
} from '../helpers/bucket-tier.ts';
import { ownRgwSkip, startCephRgw, uniqueBucketName, type RgwFixture } from '../helpers/ceph-rgw.ts';
import { spawnHoard, type HoardProcess } from '../helpers/spawn-server.ts';
import { rawRequest, startTestServer } from '../helpers/test-server.ts';

const skip = ownRgwSkip();

/** How long a read of what only the bucket has may take while the gateway is down. */
const MISS_MS = 2_000;

let rgw: RgwFixture;
/** Created before any test stops the gateway: the first bucket created after a restart took ~25 s. */
const buckets = { outage: '', kill: '' };
before(async () => {
  if (skip) return;
  rgw = await startCephRgw();
  buckets.outage = await rgw.createBucket(uniqueBucketName('outage'));
  buckets.kill = await rgw.createBucket(uniqueBucketName('kill-queued'));
});
after(async () => {
  // Whatever a failed test left stopped: the fixture's own stop takes the rest by PID.
  await rgw?.stop();
});

/** Blobs of various sizes (a multipart one among them), each with its hash. */
function blobs(n: number, label: string): { hash: string; data: Buffer }[] {
  return Array.from({ length: n }, (_, i) => {
    const data = i === 0 ? randomBytes(8 * 1024 * 1024 + 5) : randomBytes(1000 + i * 7919);
    data.write(`${label} ${i}`);
    return { hash: digestOf(data).hash, data };
  });
}

async function put(url: string, path: string, body: Buffer): Promise<void> {
  const r = await rawRequest(url, 'PUT', path, body);
  assert.equal(r.status, 200, `PUT ${path}: ${r.status} ${r.body.toString()}`);
}

/** Every one of `acked` is in the bucket, byte for byte, read back raw at its object key. */
async function assertInBucket(access: BucketAccess, acked: readonly { hash: string; data: Buffer }[]): Promise<void> {
  const client = rgw.client();
  try {
    for (const b of acked) {
      const got = await objectBytes(client, access, casKey(b.hash));
      assert.ok(got !== undefined, `acknowledged blob ${b.hash} is not in the bucket`);
      assert.ok(got.equals(b.data), `blob ${b.hash} in the bucket is not byte-exact`);
    }
  } finally {
    client.destroy();
  }
}

describe('S3 tier when the bucket goes away', { skip }, () => {
  test('uploads queue while it is down, reads of it miss quickly, and the queue drains when it is back', async (t) => {
    const bucket = buckets.outage;
    const access = await bucketAccess(rgw, bucket, 'hoard');
    t.after(() => access.dispose());
    const s = await startTestServer(access.flags);
    t.after(() => s.close());

    const local = blobs(3, 'local before');
    for (const b of local) await put(s.url, `/cas/${b.hash}`, b.data);
    await drained(s.url);
    // What only the bucket has: written there by someone else, never seen by this server.
    const remote = blobs(8, 'only in the bucket').slice(1);
    const client = rgw.client();
    t.after(() => client.destroy());
    for (const b of remote) {
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: objectKey(access.prefix, casKey(b.hash)), Body: b.data }),
      );
    }

    await rgw.stopGateway();
    let up = false;
    t.after(async () => {
      if (!up) await rgw.startGateway();
    });
    const during = blobs(12, 'while down');
    await Promise.all(during.map((b) => put(s.url, `/cas/${b.hash}`, b.data)));
    const queued = await bucketTier(s.url);
    assert.ok((queued.pending ?? 0) >= during.length, `every upload is queued: ${JSON.stringify(queued)}`);

    for (const b of [...local, ...during]) {
      const got = await rawRequest(s.url, 'GET', `/cas/${b.hash}`);
      assert.equal(got.status, 200, 'the disk still serves');
      assert.ok(got.body.equals(b.data));
    }
    const missMs: number[] = [];
    for (const b of remote) {
      const t0 = performance.now();
      const got = await rawRequest(s.url, 'GET', `/cas/${b.hash}`);
      missMs.push(performance.now() - t0);
      assert.equal(got.status, 404, `a blob only the bucket has is a miss while it is down, not ${got.status}`);
    }
    t.diagnostic(`misses while the gateway is down: ${missMs.map((ms) => Math.round(ms)).join(', ')} ms`);
    assert.ok(Math.max(...missMs) < MISS_MS, `each miss within ${MISS_MS} ms: ${missMs.join(', ')}`);
    const open = await bucketTier(s.url);
    assert.equal(open.available, false, `the breaker opened: ${JSON.stringify(open)}`);
    assert.ok((open.errors ?? 0) >= 5, `the failed reads are counted: ${JSON.stringify(open)}`);
    const metrics = (await rawRequest(s.url, 'GET', '/metrics')).body.toString();
    assert.match(metrics, /^hoard_store_available\{tier="bucket"\} 0$/m);
    assert.match(metrics, new RegExp(`^hoard_store_pending\\{tier="bucket"\\} ${open.pending}$`, 'm'));

    const t0 = performance.now();
    await rgw.startGateway();
    up = true;
    const restartMs = performance.now() - t0;
    const drainMs = await drained(s.url, 45_000);
    t.diagnostic(
      `gateway back in ${Math.round(restartMs)} ms; ${during.length} queued uploads drained ${Math.round(drainMs)} ms later`,
    );
    await assertInBucket(access, [...local, ...during]);
    // The uploads that got through closed the breaker: no read had to probe it.
    assert.equal((await bucketTier(s.url)).available, true, 'the bucket is reported available once uploads succeed');
    // And the bucket answers reads again.
    const back = remote[0]!;
    const got = await waitFor(
      'a read of the bucket succeeds again',
      async () => {
        const r = await rawRequest(s.url, 'GET', `/cas/${back.hash}`);
        return r.status === 200 ? r : undefined;
      },
      15_000,
      250,
    );
    assert.ok(got.body.equals(back.data));
    assert.equal((await bucketTier(s.url)).available, true);
  });

  test('a server killed with -9 while uploads are queued sends them after its restart', async (t) => {
    const access = await bucketAccess(rgw, buckets.kill, 'hoard');
    t.after(() => access.dispose());
    const dir = await mkdtemp(join(tmpdir(), 'hoard-s3-kill-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const serve = () =>
      spawnHoard([...access.args, '--durability', 'fsync', '--log-level', 'warn'], {
        dir,
        grpc: false,
        env: NO_AWS_ENV,
      });
    let current: HoardProcess | undefined;
    t.after(async () => {
      await current?.dispose();
    });
    let up = true;
    t.after(async () => {
      if (!up) await rgw.startGateway();
    });

    const acked: { hash: string; data: Buffer }[] = [];
    const ROUNDS = 2;
    for (let round = 0; round < ROUNDS; round++) {
      // Started while the gateway answers (the server checks its bucket at start).
      current = await serve();
      await rgw.stopGateway();
      up = false;
      const batch = blobs(10, `round ${round}`);
      await Promise.all(batch.map((b) => put(current!.httpUrl, `/cas/${b.hash}`, b.data)));
      acked.push(...batch);
      const tier = await bucketTier(current.httpUrl);
      assert.ok((tier.pending ?? 0) >= batch.length, `round ${round}: queued ${JSON.stringify(tier)}`);
      const exit = await current.stop('SIGKILL');
      assert.equal(exit.signal, 'SIGKILL');
      current = undefined;
      await rgw.startGateway();
      up = true;
    }

    current = await serve();
    const drainMs = await drained(current.httpUrl, 45_000);
    t.diagnostic(`${acked.length} uploads left by ${ROUNDS} killed processes drained in ${Math.round(drainMs)} ms`);
    await assertInBucket(access, acked);
    assert.doesNotMatch(current.output(), new RegExp(rgw.secretAccessKey), 'the log holds no secret');
  });
});
