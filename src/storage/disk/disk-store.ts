// TEMPORARY during the foundation session: the signature the server codes against.
// The real log-structured disk store replaces this body (same exports).
import { MemoryStore } from '../memory-store.ts';
import type { Store } from '../store.ts';

export type Durability = 'fsync' | 'none';

export interface DiskStoreOptions {
  /** The store directory; created if missing. */
  readonly dir: string;
  /** Bound on bytes on disk; 0 = unbounded. */
  readonly maxBytes: number;
  /** 'fsync' (default): an acknowledged put survives a crash or power loss. */
  readonly durability?: Durability;
}

export interface DiskStore extends Store {
  readonly dir: string;
}

export async function openDiskStore(options: DiskStoreOptions): Promise<DiskStore> {
  const store = new MemoryStore({ maxBytes: options.maxBytes });
  return Object.assign(store, { dir: options.dir }) as DiskStore;
}
