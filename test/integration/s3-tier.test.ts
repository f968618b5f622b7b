// The S3 tier between hoard servers: several servers over one bucket of the run's
// Ceph RGW, each with a disk of its own. What one server is given over HTTP the others
// serve once its upload queue has drained; the bucket never shows an action-cache entry
// before the blobs it references (rule 6 across tiers), whatever order the client sends
// them in; with --s3-write through the bucket has a blob when its PUT is answered; and a
// server whose credentials the bucket refuses still serves its disk, reports the failures,
// and prints its secret nowhere.
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { digestOf, type Digest } from '../../src/core/digest.ts';
import { acKey, casKey, type Key } from '../../src/core/keys.ts';
import { objectKey } from '../../src/storage/s3/object-key.ts';
import {
  bucketAccess,
  bucketTier,
  drained,
  encodeMessage,
  NO_AWS_ENV,
  objectBytes,
  objectExists,
  statusOf,
  waitFor,
  type BucketAccess,
} from '../helpers/bucket-tier.ts';
import { rgwForFile, uniqueBucketName } from '../helpers/ceph-rgw.ts';
import { spawnHoard } from '../helpers/spawn-server.ts';
import { rawRequest, startTestServer, type TestServer } from '../helpers/test-server.ts';

const fixture = await rgwForFile();
after(() => fixture.release());
const rgw = fixture.rgw;

const pb = (d: Digest) => ({ hash: d.hash, sizeBytes: d.sizeBytes });

/** A fresh bucket of this file and access to it; disposed after the test. */
async function freshBucket(
  t: { after(fn: () => Promise<void>): void },
  label: string,
  options: Parameters<typeof bucketAccess>[3] = {},
): Promise<BucketAccess> {
  const bucket = await rgw!.createBucket(uniqueBucketName(label));
  const access = await bucketAccess(rgw!, bucket, 'hoard', options);
  t.after(() => access.dispose());
  return access;
}

async function serverOn(t: { after(fn: () => Promise<void>): void }, access: BucketAccess): Promise<TestServer> {
  const s = await startTestServer(access.flags);
  t.after(() => s.close());
  return s;
}

async function put(url: string, path: string, body: Buffer, headers = {}): Promise<void> {
  const r = await rawRequest(url, 'PUT', path, body, headers);
  assert.equal(r.status, 200, `PUT ${path}: ${r.status} ${r.body.toString()}`);
}

interface Action {
  /** The AC key's hash. */
  readonly hash: string;
  readonly result: Buffer;
  /** Every CAS blob it references (the tree and the tree's files included), with its bytes. */
  readonly blobs: readonly { readonly d: Digest; readonly data: Buffer }[];
}

/**
 * An action with `files` output files of about `size` bytes, stdout, and an output directory
 * whose Tree holds two files (one in a subdirectory).
 */
function action(label: string, files: number, size: number): Action {
  const blob = (data: Buffer) => ({ d: digestOf(data), data });
  const outs = Array.from({ length: files }, (_, i) => blob(randomBytes(size + i)));
  const stdout = blob(Buffer.from(`stdout of ${label} ${randomBytes(8).toString('hex')}`));
  const inTree = blob(randomBytes(size));
  const inSubdir = blob(randomBytes(size / 2));
  const child = { files: [{ name: 'deep.bin', digest: pb(inSubdir.d) }] };
  const tree = blob(
    encodeMessage('Tree', {
      root: {
        files: [{ name: 'top.bin', digest: pb(inTree.d) }],
        directories: [{ name: 'sub', digest: pb(digestOf(encodeMessage('Directory', child))) }],
      },
      children: [child],
    }),
  );
  const result = encodeMessage('ActionResult', {
    outputFiles: outs.map((o, i) => ({ path: `bin/out-${i}`, digest: pb(o.d) })),
    outputDirectories: [{ path: 'gen', treeDigest: pb(tree.d) }],
    stdoutDigest: pb(stdout.d),
    exitCode: 0,
  });
  return {
    hash: digestOf(Buffer.from(`action ${label} ${randomBytes(8).toString('hex')}`)).hash,
    result,
    blobs: [...outs, stdout, inTree, inSubdir, tree],
  };
}

describe('S3 tier: several servers, one bucket', { skip: fixture.skip }, () => {
  test('what server A was given is served by server B once A has sent it', { timeout: 60_000 }, async (t) => {
    const access = await freshBucket(t, 'two-servers');
    const [a, b] = [await serverOn(t, access), await serverOn(t, access)];
    const ns = 'team-a';
    // A multipart-sized blob (over 8 MiB) among small ones, and an empty one.
    const act = action('two servers', 4, 64 * 1024);
    const big = randomBytes(9 * 1024 * 1024 + 17);
    const blobs = [...act.blobs, { d: digestOf(big), data: big }];
    await Promise.all(blobs.map((x) => put(a.url, `/${ns}/cas/${x.d.hash}`, x.data)));
    await put(a.url, `/${ns}/ac/${act.hash}`, act.result);
    const gradleKey = randomBytes(16).toString('hex');
    const gradleBody = randomBytes(100_000);
    await put(a.url, `/gradle/${gradleKey}`, gradleBody);

    const drainMs = await drained(a.url);
    t.diagnostic(`A's queue drained ${blobs.length + 2} entries in ${Math.round(drainMs)} ms`);
    const before = (await statusOf(b.url)).doc;
    assert.equal(before.store.entries, 0, 'B holds nothing of its own: whatever it serves comes from the bucket');

    // B is read as Bazel reads: over kept-alive connections (fetch).
    const get = async (path: string) => {
      const r = await fetch(`${b.url}${path}`);
      return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
    };
    const hit = await get(`/${ns}/ac/${act.hash}`);
    assert.equal(hit.status, 200, 'B answers the action-cache entry A was given');
    assert.deepEqual(hit.body, act.result);
    for (const x of blobs) {
      const got = await get(`/${ns}/cas/${x.d.hash}`);
      assert.equal(got.status, 200, `B serves blob ${x.d.hash}`);
      assert.ok(got.body.equals(x.data), `blob ${x.d.hash} is byte-exact on B`);
    }
    // Namespaces hold in the bucket too: the same blob is not B's under another prefix.
    assert.equal((await get(`/team-b/cas/${act.blobs[0]!.d.hash}`)).status, 404);
    const gradle = await get(`/gradle/${gradleKey}`);
    assert.equal(gradle.status, 200, 'B serves the Gradle entry A was given');
    assert.ok(gradle.body.equals(gradleBody));

    const lookups = blobs.length + 2;
    let last: unknown;
    const after_ = await waitFor(
      () => `B counts its ${lookups} hits (last: ${JSON.stringify(last)})`,
      async () => {
        const { doc } = await statusOf(b.url);
        last = doc.lookups;
        return doc.lookups.hits - before.lookups.hits >= lookups ? doc : undefined;
      },
    );
    assert.equal(after_.lookups.hits - before.lookups.hits, lookups, 'every lookup on B was a hit');
    // B filled its disk with what it read from the bucket (a response ends once its bytes
    // checked out; the fill publishes just after), and its bucket tier saw no failure.
    const filled = await waitFor(
      () => `B's disk holds the ${lookups} entries it read (last: ${JSON.stringify(last)})`,
      async () => {
        const { doc } = await statusOf(b.url);
        last = doc.store.tiers[0];
        return doc.store.tiers[0]!.entries >= lookups ? doc : undefined;
      },
    );
    assert.equal(filled.store.tiers[1]!.errors ?? 0, 0);
    assert.equal(filled.store.tiers[1]!.available, true);
  });
});

describe('S3 tier: an action-cache entry is never in the bucket before its blobs', { skip: fixture.skip }, () => {
  for (const order of ['blobs first', 'entries first'] as const) {
    test(`a bucket observer never sees an entry whose blobs are missing (${order})`, { timeout: 60_000 }, async (t) => {
      const access = await freshBucket(t, `ac-order-${order}`);
      const s = await serverOn(t, access);
      const ns = 'observed';
      // 12 actions of 6 blobs each: 72 blobs, some large enough to take a while to send.
      const actions = Array.from({ length: 12 }, (_, i) => action(`${order} ${i}`, 2, (i % 3) * 200_000 + 1000));
      const refsOf = new Map<string, Key[]>(
        actions.map((a) => [objectKey(access.prefix, acKey(a.hash, ns)), a.blobs.map((x) => casKey(x.d.hash, ns))]),
      );

      const client = rgw!.client();
      t.after(() => client.destroy());
      const seen = new Set<string>();
      const violations: string[] = [];
      let polls = 0;
      let observing = true;
      const acPrefix = `${objectKey(access.prefix, acKey('x', ns)).slice(0, -1)}`;
      const observer = (async () => {
        while (observing) {
          polls++;
          const listed = await client.send(new ListObjectsV2Command({ Bucket: access.bucket, Prefix: acPrefix }));
          const fresh = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => !seen.has(k));
          // An entry is listed: each of its blobs must be there now (blobs are never deleted, so
          // one missing now was missing when the entry became visible).
          await Promise.all(
            fresh.map(async (k) => {
              seen.add(k);
              const refs = refsOf.get(k);
              if (refs === undefined) return void violations.push(`an unknown entry ${k}`);
              const present = await Promise.all(refs.map((r) => objectExists(client, access, r)));
              const missing = refs.filter((_, i) => !present[i]).map((r) => r.id);
              if (missing.length > 0) violations.push(`${k} is listed while ${missing.join(', ')} are not`);
            }),
          );
          await sleep(3);
        }
      })();

      const sendBlobs = () =>
        Promise.all(actions.flatMap((a) => a.blobs.map((x) => put(s.url, `/${ns}/cas/${x.d.hash}`, x.data))));
      const sendEntries = () => Promise.all(actions.map((a) => put(s.url, `/${ns}/ac/${a.hash}`, a.result)));
      if (order === 'blobs first') {
        await sendBlobs();
        await sendEntries();
      } else {
        await sendEntries();
        await sendBlobs();
      }
      try {
        await drained(s.url);
        // One more look after the queue is empty, so the last entries are seen too.
        await waitFor('the observer has seen every entry', async () =>
          seen.size >= actions.length ? true : undefined,
        );
      } finally {
        observing = false;
        await observer;
      }
      t.diagnostic(`${polls} polls of the bucket; ${seen.size} entries seen appearing`);
      assert.deepEqual(violations, []);
      assert.equal(seen.size, actions.length, 'the observer saw every entry appear');
      // It was looking before the queue was empty, not only at the end state.
      assert.ok(polls >= 2, `the observer polled while they appeared (${polls} polls)`);
    });
  }
});

describe('S3 tier: wrong bytes in the bucket', { skip: fixture.skip }, () => {
  test('a blob whose object holds other bytes of the same size is never served as whole', async (t) => {
    const access = await freshBucket(t, 'wrong-bytes');
    const s = await serverOn(t, access);
    const client = rgw!.client();
    t.after(() => client.destroy());
    // The control: right bytes in the bucket are read through and kept, so a miss below is
    // the refusal of wrong bytes, not a server that never asks the bucket.
    const right = randomBytes(2000);
    const rightHash = digestOf(right).hash;
    await client.send(
      new PutObjectCommand({ Bucket: access.bucket, Key: objectKey(access.prefix, casKey(rightHash)), Body: right }),
    );
    const control = await rawRequest(s.url, 'GET', `/cas/${rightHash}`);
    assert.equal(control.status, 200);
    assert.ok(control.body.equals(right));
    for (const size of [1000, 300_000]) {
      const good = randomBytes(size);
      const { hash } = digestOf(good);
      const bad = Buffer.from(good);
      bad[size - 1]! ^= 1; // the last byte: the hash can only fail once every byte was read
      await client.send(
        new PutObjectCommand({ Bucket: access.bucket, Key: objectKey(access.prefix, casKey(hash)), Body: bad }),
      );
      // Twice: the first read streams from the bucket, the second finds nothing on the disk.
      for (const attempt of [1, 2]) {
        const got = await rawRequest(s.url, 'GET', `/cas/${hash}`).catch((err: unknown) => err as Error);
        if (got instanceof Error) continue; // cut before its end: the client knows it is not whole
        assert.notEqual(got.status, 200, `read ${attempt} of a ${size}-byte blob with a wrong last byte: 200 in full`);
      }
    }
    const disk = await waitFor('the control blob on the disk', async () => {
      const { doc } = await statusOf(s.url);
      return doc.store.tiers[0]!.entries >= 1 ? doc : undefined;
    });
    assert.equal(disk.store.tiers[0]!.entries, 1, 'the disk kept the control blob and none of the wrong ones');
  });
});

describe('S3 tier: write-through', { skip: fixture.skip }, () => {
  test('the bucket has the blob when its PUT is answered', { timeout: 30_000 }, async (t) => {
    const access = await freshBucket(t, 'write-through', { write: 'through' });
    const s = await serverOn(t, access);
    const client = rgw!.client();
    t.after(() => client.destroy());
    for (const size of [0, 1, 70_000, 9 * 1024 * 1024 + 1]) {
      const data = randomBytes(size);
      const { hash } = digestOf(data);
      await put(s.url, `/cas/${hash}`, data);
      const inBucket = await objectBytes(client, access, casKey(hash));
      if (size === 0) continue; // the empty blob is never stored anywhere: every store has it
      assert.ok(inBucket?.equals(data), `a ${size}-byte blob is in the bucket as the PUT is answered`);
    }
    const gradleKey = randomBytes(16).toString('hex');
    const body = randomBytes(5000);
    await put(s.url, `/gradle/${gradleKey}`, body);
    assert.equal((await bucketTier(s.url)).pending, undefined, 'no queue at all');
    // A raw entry too: a second server, whose disk is empty, reads it from the bucket.
    const other = await serverOn(t, access);
    const got = await rawRequest(other.url, 'GET', `/gradle/${gradleKey}`);
    assert.equal(got.status, 200, 'the Gradle entry is in the bucket as its PUT is answered');
    assert.ok(got.body.equals(body));
  });
});

describe('S3 tier: refused credentials', { skip: fixture.skip }, () => {
  test(
    'a server whose secret is wrong serves its disk, misses the bucket, and prints the secret nowhere',
    { timeout: 40_000 },
    async (t) => {
      const secret = `wrong-${randomBytes(12).toString('hex')}`;
      const good = await freshBucket(t, 'credentials');
      const bad = await bucketAccess(rgw!, good.bucket, good.prefix, { secret });
      t.after(() => bad.dispose());
      // What only the bucket has: written by a server with the right credentials.
      const writer = await serverOn(t, good);
      const shared = randomBytes(3000);
      await put(writer.url, `/cas/${digestOf(shared).hash}`, shared);
      await drained(writer.url);

      const s = await spawnHoard(['--log-level', 'debug', ...bad.args], { grpc: false, env: NO_AWS_ENV });
      t.after(() => s.dispose());
      const local = randomBytes(2000);
      const localHash = digestOf(local).hash;
      await put(s.httpUrl, `/cas/${localHash}`, local);
      const got = await rawRequest(s.httpUrl, 'GET', `/cas/${localHash}`);
      assert.equal(got.status, 200, 'its own disk serves what it was given');
      assert.ok(got.body.equals(local));
      for (let i = 0; i < 3; i++) {
        const miss = await rawRequest(s.httpUrl, 'GET', `/cas/${digestOf(shared).hash}`);
        assert.equal(miss.status, 404, `a blob only the bucket has is a miss, not a failure (${miss.status})`);
      }
      const tier = await waitFor('the bucket tier counts the refusals', async () => {
        const tier = await bucketTier(s.httpUrl);
        return (tier.errors ?? 0) >= 1 ? tier : undefined;
      });
      t.diagnostic(`bucket tier: ${JSON.stringify(tier)}`);
      assert.match(tier.lastError ?? '', /credentials/);

      const { text } = await statusOf(s.httpUrl);
      const metrics = await rawRequest(s.httpUrl, 'GET', '/metrics');
      assert.equal(metrics.status, 200);
      await sleep(300); // the uploader's failures reach the log too
      for (const [where, text_] of [
        ['/status', text],
        ['/metrics', metrics.body.toString()],
        ['the log', s.output()],
      ] as const) {
        assert.ok(!text_.includes(secret), `${where} shows the secret`);
      }
      assert.match(s.output(), /credentials/, 'the log says the bucket refused the credentials');
    },
  );
});
