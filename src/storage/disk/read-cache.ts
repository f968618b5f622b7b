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

  /**
   * Keeps `data`, given whole or as its parts. A view into a larger buffer, or parts, are
   * copied into a buffer of its own, so the cache pins no more than the entry.
   */
  set(slot: string, data: Buffer | readonly Buffer[]): void {
    this.delete(slot); // first: a value too big to keep must still drop the one it replaces
    const size = Buffer.isBuffer(data) ? data.length : data.reduce((n, b) => n + b.length, 0);
    if (size > this.#maxEntryBytes || this.#maxBytes === 0) return;
    const whole = Buffer.isBuffer(data) ? data : data.length === 1 ? data[0]! : undefined;
    let own: Buffer;
    if (whole && whole.byteOffset === 0 && whole.buffer.byteLength === whole.length) own = whole;
    else {
      own = Buffer.allocUnsafeSlow(size); // unpooled: its own backing store
      let at = 0;
      for (const part of whole ? [whole] : (data as readonly Buffer[])) at += part.copy(own, at);
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
