// A tier is a store with a name in a stack (the disk in front of a bucket). Names reach
// operators as the `tiers` of StoreUsage, the `tier` label of the store metrics and the
// /status page; nothing on the data path looks at them.
import { ErrorCode } from '../core/errors.ts';
import type { Store, StoreUsage, TierUsage } from './store.ts';

/** Errors that say something about the caller (or its bytes), not about a tier's health. */
const CALLER_ERRORS: ReadonlySet<string> = new Set([
  ErrorCode.Aborted,
  ErrorCode.InvalidArgument,
  ErrorCode.OutOfRange,
  ErrorCode.DigestMismatch,
  ErrorCode.SizeMismatch,
  ErrorCode.TooLarge,
]);

/** True for an error a tier's health counts must leave out. */
export function isCallerError(code: string): boolean {
  return CALLER_ERRORS.has(code);
}

export interface Tier {
  /** Unique within the stack; the metrics' `tier` label. */
  readonly name: string;
  /** The implementation: 'disk', 'memory', 's3'. */
  readonly kind: string;
  readonly store: Store;
}

/** The name a store's only tier gets when nobody named it (a store handed to startServer). */
export const UNNAMED_TIER = 'store';

/**
 * The tiers behind `usage`, front first: its own `tiers` when it is a composed store,
 * else one tier with its figures under `name`/`kind`.
 */
export function tiersOf(usage: StoreUsage, name = UNNAMED_TIER, kind = name): readonly TierUsage[] {
  if (usage.tiers !== undefined) return usage.tiers;
  const { bytes, maxBytes, effectiveMaxBytes, entries, evictions, health } = usage;
  const tier = { name, kind, bytes, maxBytes, effectiveMaxBytes, entries, evictions };
  return [
    health === undefined
      ? tier
      : { ...tier, errors: health.errors, available: health.available, lastError: health.lastError },
  ];
}

/**
 * `tier.store` reporting itself as one named tier. The data path is the store's own
 * methods (bound, not wrapped), so naming costs nothing per operation; that includes the
 * optional `hasDigests`, which FindMissingBlobs from request threads needs to stay fast.
 */
export function namedStore(tier: Tier): Store {
  const { store } = tier;
  return {
    has: store.has.bind(store),
    hasDigests: store.hasDigests?.bind(store),
    stat: store.stat.bind(store),
    get: store.get.bind(store),
    getBytes: store.getBytes.bind(store),
    put: store.put.bind(store),
    delete: store.delete.bind(store),
    close: store.close.bind(store),
    usage() {
      const usage = store.usage();
      return { ...usage, tiers: tiersOf(usage, tier.name, tier.kind) };
    },
  };
}
