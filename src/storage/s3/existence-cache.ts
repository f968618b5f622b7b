// What this process learned recently about which CAS blobs the bucket holds, so existence
// checks (FindMissingBlobs through the stack) do not send a HeadObject for a blob it saw a
// moment ago. Only CAS blobs are remembered: their bytes never change under a key, while an
// AC or raw value may be replaced or deleted by another server. Only presence is
// remembered, for EXISTENCE_TTL_MS: absence is never cached, because another server may
// upload the blob at any moment. A blob deleted from the bucket (by a lifecycle rule, days
// after it was written) may be reported present for up to that long; a read then misses and
// the build recomputes it.
import { keyString, type Key } from '../../core/keys.ts';

export const EXISTENCE_TTL_MS = 60_000;
const MAX_REMEMBERED = 200_000;

export class ExistenceCache {
  /** keyString → size and when it was learned; insertion order is age order. */
  readonly #known = new Map<string, { readonly size: number; readonly at: number }>();
  readonly #ttlMs: number;

  constructor(ttlMs = EXISTENCE_TTL_MS) {
    this.#ttlMs = ttlMs;
  }

  /** The blob's size when it is known present, else undefined (ask the bucket). */
  size(key: Key): number | undefined {
    if (key.keyspace !== 'cas') return undefined;
    const id = keyString(key);
    const known = this.#known.get(id);
    if (known === undefined) return undefined;
    if (Date.now() - known.at > this.#ttlMs) {
      this.#known.delete(id);
      return undefined;
    }
    return known.size;
  }

  present(key: Key, size: number): void {
    if (key.keyspace !== 'cas') return;
    const id = keyString(key);
    this.#known.delete(id); // re-inserted as the newest
    this.#known.set(id, { size, at: Date.now() });
    if (this.#known.size > MAX_REMEMBERED) this.#known.delete(this.#known.keys().next().value!);
  }

  forget(key: Key): void {
    this.#known.delete(keyString(key));
  }
}
