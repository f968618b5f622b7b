// Watches a bucket's action-cache objects appear while a build writes through a hoard server,
// and checks rule 6 across tiers at each appearance: every blob the entry references (its
// outputs, trees and the files they list, directory graphs) must already be in the bucket.
// It reads the bucket through an S3Store of its own (the same object layout as the servers),
// and lists the AC prefix with the raw S3 client.
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { setTimeout as sleep } from 'node:timers/promises';
import { referencedBlobs } from '../../src/cache/action-refs.ts';
import { acKey, casKey } from '../../src/core/keys.ts';
import { objectKey } from '../../src/storage/s3/object-key.ts';
import { S3Store } from '../../src/storage/s3/s3-store.ts';
import type { RgwFixture } from './ceph-rgw.ts';

export interface ObservedBucket {
  /** AC objects seen appearing. */
  readonly seen: number;
  /** Blobs checked across them. */
  readonly blobsChecked: number;
  readonly polls: number;
  /** Entries seen while a blob they reference was not in the bucket. */
  readonly violations: readonly string[];
}

export interface BucketObserver {
  /** Stops polling after one last look; resolves what it saw. */
  stop(): Promise<ObservedBucket>;
}

export function observeActionCache(rgw: RgwFixture, bucket: string, prefix: string, ns: string): BucketObserver {
  const client: S3Client = rgw.client();
  const store = new S3Store({
    endpoint: rgw.endpoint,
    region: rgw.region,
    bucket,
    prefix,
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
  });
  // Object keys end in the entry's hash; everything before it is the AC prefix of `ns`.
  const listPrefix = objectKey(prefix, acKey('0', ns)).slice(0, -1);
  const seen = new Set<string>();
  const violations: string[] = [];
  let blobsChecked = 0;
  let polls = 0;
  let running = true;

  const look = async (): Promise<void> => {
    polls++;
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: listPrefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        const name = object.Key!;
        if (seen.has(name)) continue;
        seen.add(name);
        const hash = name.slice(listPrefix.length);
        const bytes = await store.getBytes(acKey(hash, ns));
        if (bytes === undefined) continue; // listed, then replaced or gone: nothing to judge
        const refs = await referencedBlobs(store, bytes, ns);
        if (refs === 'unreadable') {
          violations.push(`${name}: a tree or directory it names is not in the bucket`);
          continue;
        }
        if (refs === 'opaque') continue;
        blobsChecked += refs.length;
        const present = await store.has(
          refs.map((d) => casKey(d.hash, ns)),
          refs.map((d) => d.sizeBytes),
        );
        const missing = refs.filter((_, i) => !present[i]);
        if (missing.length > 0) {
          violations.push(`${name} is in the bucket while ${missing.length} of its ${refs.length} blobs are not`);
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  };

  const loop = (async () => {
    while (running) {
      await look();
      await sleep(20);
    }
  })();

  return {
    async stop() {
      running = false;
      await loop;
      await look();
      client.destroy();
      await store.close();
      return { seen: seen.size, blobsChecked, polls, violations };
    },
  };
}
