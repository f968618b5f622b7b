// A bounded cache of recently written or read small entries, by slot. A hot 4 KiB GET is
// then a map lookup instead of a trip through libuv's thread pool for a positional read.
// The store keeps it coherent: it drops a slot whenever the index forgets or replaces the
// entry, and only caches a read whose entry still sits where the read started.
//
// LRU order is the Map's insertion order (a hit re-inserts). Eviction walks one `keys()`
// iterator kept across calls: Map iterators survive deletions and see re-inserted keys at
// the end, so it always stands at the oldest entry. A fresh iterator per eviction would
// step over every deleted entry's hole from the start each time (quadratic once full).

/** Entries above this size are never cached. */
export const READ_CACHE_MAX_ENTRY = 64 * 1024;

export class ReadCache {
  readonly #entries = new Map<string, Buffer>();
  readonly #maxBytes: number;
  readonly #maxEntryBytes: number;
  #bytes = 0;
  #oldest: MapIterator<string> | undefined;

  constructor(maxBytes: number, maxEntryBytes = READ_CACHE_MAX_ENTRY) {
    this.#maxBytes = maxBytes;
    this.#maxEntryBytes = Math.min(maxEntryBytes, maxBytes);
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(slot: string): Buffer | undefined {
    const data = this.#entries.get(slot);
    if (data !== undefined) {
      this.#entries.delete(slot);
      this.#entries.set(slot, data);
    }
    return data;
  }

  /** Keeps `data` (copied when it is a view into a larger buffer, so the cache pins no more). */
  set(slot: string, data: Buffer): void {
    this.delete(slot); // first: a value too big to keep must still drop the one it replaces
    if (data.length > this.#maxEntryBytes || this.#maxBytes === 0) return;
    let own = data;
    if (data.byteOffset !== 0 || data.buffer.byteLength !== data.length) {
      own = Buffer.allocUnsafeSlow(data.length); // unpooled: its own backing store
      data.copy(own);
    }
    this.#entries.set(slot, own);
    this.#bytes += own.length;
    while (this.#bytes > this.#maxBytes) this.delete(this.#nextOldest());
  }

  delete(slot: string): void {
    const data = this.#entries.get(slot);
    if (data === undefined) return;
    this.#entries.delete(slot);
    this.#bytes -= data.length;
  }

  /** The least recently used key; the map is not empty. */
  #nextOldest(): string {
    let next = this.#oldest?.next();
    if (next === undefined || next.done === true) {
      // Exhausted iterators stay exhausted; a new one starts at the (now oldest) first entry.
      this.#oldest = this.#entries.keys();
      next = this.#oldest.next();
    }
    return next.value as string;
  }
}
