// The store stack a server runs on, built from the validated config (config parses values;
// building objects from them is storage's business). A stack is a list of tiers, front
// first, each opened from config by its own opener, composed by wrapping: one tier is
// itself (named), and each tier in front of the rest is a ReadThroughStore over them.
// Today the list is the disk tier alone; a bucket behind it is one more opener in
// `tierPlan`, chosen by config, and a write-behind wrapper around that tier. Namespace
// quotas are the disk tier's; the namespace read fallback wraps the whole stack (only when
// the config has rules), on the store thread, so every request thread sees it alike.
import type { Config } from '../config/schema.ts';
import { openDiskStore, type DiskStoreOptions } from './disk/disk-store.ts';
import { withNamespaceFallback } from './namespace-fallback-store.ts';
import { ReadThroughStore } from './read-through-store.ts';
import type { Store } from './store.ts';
import { namedStore, type Tier } from './tier.ts';

/** The part of the config the store stack is built from (no namespace rules when left out). */
export type StoreConfig = Pick<Config, 'dir' | 'maxSize' | 'durability'> &
  Partial<Pick<Config, 'namespaceFallback' | 'namespaceQuota'>>;

/** Opens one tier; the stack closes it again if a later tier fails to open. */
type TierOpener = () => Promise<Tier>;

/** What the stack tells its owner (the server logs it). */
export interface StoreEvents {
  /** The disk tier's bound fell below maxSize because its file system holds less, or is back. */
  readonly onEffectiveMaxBytes?: DiskStoreOptions['onEffectiveMaxBytes'];
}

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
  return withNamespaceFallback(composeTiers(opened), config.namespaceFallback ?? []);
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
