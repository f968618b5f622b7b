// What the integration tests of the S3 tier share: the flags and the config file that point a
// hoard server at a bucket of the Ceph RGW fixture (credentials go in the file: hoard refuses
// them as flags), its /status bucket tier, waiting for its upload queue to drain, and raw
// reads of the bucket at the object a key maps to (src/storage/s3/object-key.ts).
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Key } from '../../src/core/keys.ts';
import { protoType, REAPI } from '../../src/core/proto.ts';
import { objectKey } from '../../src/storage/s3/object-key.ts';
import type { RgwFixture } from './ceph-rgw.ts';
import { rawRequest } from './test-server.ts';

/** Where a server finds its bucket: `flags` for startTestServer, `args` for spawnHoard. */
export interface BucketAccess {
  readonly bucket: string;
  readonly prefix: string;
  /** The YAML config file holding the credentials; removed by dispose(). */
  readonly configFile: string;
  readonly flags: Record<string, string>;
  readonly args: readonly string[];
  dispose(): Promise<void>;
}

/**
 * Access to `bucket` under `prefix` of `rgw`, with the fixture's credentials or, when given,
 * a `secret` of the caller's (a wrong one, to see how a server lives with refused credentials).
 */
export async function bucketAccess(
  rgw: RgwFixture,
  bucket: string,
  prefix: string,
  options: { readonly secret?: string; readonly write?: 'behind' | 'through' } = {},
): Promise<BucketAccess> {
  const dir = await mkdtemp(join(tmpdir(), 'hoard-bucket-config-'));
  const configFile = join(dir, 'hoard.yaml');
  const secret = options.secret ?? rgw.secretAccessKey;
  await writeFile(configFile, `s3-access-key-id: ${rgw.accessKeyId}\ns3-secret-access-key: ${secret}\n`, {
    mode: 0o600,
  });
  const write = options.write ?? 'behind';
  return {
    bucket,
    prefix,
    configFile,
    flags: {
      config: configFile,
      s3Bucket: bucket,
      s3Endpoint: rgw.endpoint,
      s3Region: rgw.region,
      s3Prefix: prefix,
      s3PathStyle: 'on',
      s3Write: write,
    },
    args: [
      '--config',
      configFile,
      '--s3-bucket',
      bucket,
      '--s3-endpoint',
      rgw.endpoint,
      '--s3-region',
      rgw.region,
      '--s3-prefix',
      prefix,
      '--s3-path-style',
      '--s3-write',
      write,
    ],
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The environment a spawned server gets: no AWS_* credentials of the developer's leak in. */
export const NO_AWS_ENV: Record<string, undefined> = {
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
};

/** The part of /status these tests read. */
export interface BucketStatus {
  readonly store: {
    readonly entries: number;
    readonly tiers: readonly {
      readonly name: string;
      readonly kind: string;
      readonly entries: number;
      readonly pending?: number;
      readonly errors?: number;
      readonly available?: boolean;
      readonly lastError?: string;
    }[];
  };
  readonly lookups: { readonly hits: number; readonly misses: number };
}

export async function statusOf(url: string): Promise<{ doc: BucketStatus; text: string }> {
  const r = await rawRequest(url, 'GET', '/status');
  assert.equal(r.status, 200, `/status: ${r.body.toString()}`);
  const text = r.body.toString();
  return { doc: JSON.parse(text) as BucketStatus, text };
}

/** /status's bucket tier (tiers[1], named 'bucket'). */
export async function bucketTier(url: string): Promise<BucketStatus['store']['tiers'][number]> {
  const { doc } = await statusOf(url);
  const tier = doc.store.tiers[1];
  assert.equal(tier?.name, 'bucket', `tiers: ${JSON.stringify(doc.store.tiers)}`);
  return tier;
}

/**
 * Polls `probe` every `everyMs` until it returns a value other than undefined, or fails after
 * `timeoutMs` saying `what` (a function: worded at the end, with what the probe saw last).
 */
export async function waitFor<T>(
  what: string | (() => string),
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > until) {
      assert.fail(`${typeof what === 'string' ? what : what()}: not within ${timeoutMs} ms`);
    }
    await sleep(everyMs);
  }
}

/** Waits until the server's upload queue is empty; resolves the milliseconds it took. */
export async function drained(url: string, timeoutMs = 30_000): Promise<number> {
  const t0 = performance.now();
  let last: unknown;
  await waitFor(
    () => `the upload queue of ${url} drains (last bucket tier: ${JSON.stringify(last)})`,
    async () => {
      const tier = await bucketTier(url);
      last = tier;
      return tier.pending === 0 ? true : undefined;
    },
    timeoutMs,
  );
  return performance.now() - t0;
}

/** The object `key` maps to in the bucket, read with the raw client; undefined when absent. */
export async function objectBytes(
  client: S3Client,
  access: Pick<BucketAccess, 'bucket' | 'prefix'>,
  key: Key,
): Promise<Buffer | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: access.bucket, Key: objectKey(access.prefix, key) }));
    return Buffer.from(await out.Body!.transformToByteArray());
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

/** Whether the object `key` maps to is in the bucket (HeadObject). */
export async function objectExists(
  client: S3Client,
  access: Pick<BucketAccess, 'bucket' | 'prefix'>,
  key: Key,
): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: access.bucket, Key: objectKey(access.prefix, key) }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

/** A REAPI message as bytes (ActionResult, Tree, Directory). */
export function encodeMessage(type: string, value: object): Buffer {
  const t = protoType(`${REAPI}.${type}`);
  return Buffer.from(t.encode(t.create(value)).finish());
}
