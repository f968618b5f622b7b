// The store stack a server runs on, built from the validated config (config parses values;
// building objects from them is storage's business). A stack is a list of tiers, front
// first, each opened from config by its own opener, composed by wrapping: one tier is
// itself (named), and each tier in front of the rest is a ReadThroughStore over them. The
// list is the disk tier, then the bucket when --s3-bucket names one; with --s3-write
// behind (the default) the bucket is written through a durable upload queue in
// `<dir>/upload-queue/` (write-behind/). Namespace quotas are the disk tier's; the namespace
// read fallback wraps the whole stack (only when the config has rules), on the store
// thread, so every request thread sees it alike.
import path from 'node:path';
import { referencedBlobs } from '../cache/action-refs.ts';
import { toHoardError } from '../core/errors.ts';
import type { Config } from '../config/schema.ts';
import { openDiskStore, type DiskStoreOptions } from './disk/disk-store.ts';
import { CircuitBreakerStore } from './circuit-breaker-store.ts';
import { withNamespaceFallback } from './namespace-fallback-store.ts';
import { ReadThroughStore } from './read-through-store.ts';
import type { Store } from './store.ts';
import { S3Store } from './s3/s3-store.ts';
import { namedStore, type Tier } from './tier.ts';
import type { UploaderLogger } from './write-behind/bucket-uploader.ts';
import { WriteBehind } from './write-behind/write-behind.ts';

/** The part of the config the store stack is built from (no namespace rules when left out). */
export type StoreConfig = Pick<Config, 'dir' | 'maxSize' | 'durability'> &
  Partial<
    Pick<
      Config,
      | 'namespaceFallback'
      | 'namespaceQuota'
      | 's3Bucket'
      | 's3Endpoint'
      | 's3Region'
      | 's3Prefix'
      | 's3PathStyle'
      | 's3Write'
      | 's3RefreshAfter'
      | 's3AccessKeyId'
      | 's3SecretAccessKey'
    >
  >;

/** Opens one tier; the stack closes it again if a later tier fails to open. */
type TierOpener = () => Promise<Tier>;

/** What the stack tells its owner (the server logs it). */
export interface StoreEvents {
  /** The disk tier's bound fell below maxSize because its file system holds less, or is back. */
  readonly onEffectiveMaxBytes?: DiskStoreOptions['onEffectiveMaxBytes'];
  /** Where the bucket uploader says that uploads keep failing. */
  readonly logger?: UploaderLogger;
}

/** Entries the upload queue holds before puts wait for the bucket (back-pressure). */
const QUEUE_MAX_ENTRIES = 1_000_000;
/** The queue holds at most this share of the disk bound, so the disk keeps what it must still send. */
const QUEUE_SHARE_OF_DISK = 0.5;
const QUEUE_MIN_BYTES = 64 * 1024 * 1024;

/** The tiers `config` asks for, front first. */
function tierPlan(config: StoreConfig, events: StoreEvents): readonly TierOpener[] {
  return [
    async () => ({
      name: 'disk',
      kind: 'disk',
      store: await openDiskStore({
        dir: config.dir,
        maxBytes: config.maxSize,
        durability: config.durability,
        namespaceQuotas: config.namespaceQuota,
        onEffectiveMaxBytes: events.onEffectiveMaxBytes,
      }),
    }),
    ...(config.s3Bucket === undefined || config.s3Bucket === ''
      ? []
      : [
          async (): Promise<Tier> => {
            const store = new S3Store({
              bucket: config.s3Bucket!,
              endpoint: config.s3Endpoint === '' ? undefined : config.s3Endpoint,
              region: config.s3Region ?? 'us-east-1',
              prefix: config.s3Prefix,
              forcePathStyle: config.s3PathStyle,
              refreshAfterMs: config.s3RefreshAfter,
              credentials:
                config.s3AccessKeyId && config.s3SecretAccessKey
                  ? { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey }
                  : undefined,
            });
            // A bucket out of reach or refusing the credentials at start does not keep the disk
            // from serving: its reads are misses (the breaker) and its uploads wait queued until
            // it answers. The operator is told at once, as the tier's errors say later.
            store
              .check()
              .catch((err: unknown) =>
                events.logger?.warn(
                  { lastError: toHoardError(err).message },
                  'the bucket does not answer at start: serving from the disk, uploads stay queued',
                ),
              );
            return { name: 'bucket', kind: 's3', store };
          },
        ]),
  ];
}

/** Opens every tier `config` names and composes them; the caller owns (closes) the result. */
export async function createStore(config: StoreConfig, events: StoreEvents = {}): Promise<Store> {
  const opened: Tier[] = [];
  try {
    for (const open of tierPlan(config, events)) opened.push(await open());
  } catch (err) {
    await Promise.allSettled(opened.map((t) => t.store.close()));
    throw err;
  }
  let stack: Store;
  try {
    stack = await composeStack(config, opened, events);
  } catch (err) {
    await Promise.allSettled(opened.map((t) => t.store.close()));
    throw err;
  }
  return withNamespaceFallback(stack, config.namespaceFallback ?? []);
}

/**
 * The tiers as one store. With a bucket, its reads go through a circuit breaker (a bucket
 * that fails or stalls is a miss, not an error or a hang) and its writes go behind a durable
 * queue, or through, as --s3-write says. The uploader writes to the bucket itself, not
 * through the breaker: a failure there must be retried, not taken for an absent blob.
 */
async function composeStack(config: StoreConfig, tiers: readonly Tier[], events: StoreEvents): Promise<Store> {
  const [disk, bucket] = tiers;
  if (disk === undefined || bucket === undefined || tiers.length !== 2) return composeTiers(tiers);
  const breaker = new CircuitBreakerStore(bucket.store, {
    onStateChange: (state, lastError) =>
      state === 'open'
        ? events.logger?.warn({ lastError }, 'the bucket keeps failing: its reads answer misses for a while')
        : events.logger?.warn({}, 'the bucket answers again'),
  });
  const guarded: Tier = { ...bucket, store: breaker };
  if (config.s3Write === 'through') return new ReadThroughStore(disk, guarded);
  const writeBehind = await WriteBehind.open({
    dir: path.join(config.dir, 'upload-queue'),
    source: disk.store,
    target: bucket.store,
    referencesOf: referencedBlobs,
    maxEntries: QUEUE_MAX_ENTRIES,
    maxBytes: Math.max(QUEUE_MIN_BYTES, config.maxSize * QUEUE_SHARE_OF_DISK),
    sync: config.durability === 'fsync',
    logger: events.logger,
    // An upload that got through shows the bucket is back, even to a server reading nothing.
    onDelivered: () => breaker.answeredElsewhere(),
  });
  return new ReadThroughStore(disk, guarded, { writeBehind });
}

/**
 * One store over `tiers` (front first, at least one): reads fall through to the tiers
 * behind, misses fill the tiers in front, writes go through to all (read-through-store.ts).
 * The result owns the tiers: closing it closes them.
 */
export function composeTiers(tiers: readonly Tier[]): Store {
  const [front, ...rest] = tiers;
  if (front === undefined) throw new Error('a store stack needs at least one tier');
  if (rest.length === 0) return namedStore(front);
  const behind = composeTiers(rest);
  return new ReadThroughStore(front, { name: rest[0]!.name, kind: rest[0]!.kind, store: behind });
}
