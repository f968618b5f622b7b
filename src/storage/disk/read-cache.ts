// A bounded cache of recently written or read small entries, by slot. A hot 4 KiB GET is
// then a map lookup instead of a trip through libuv's thread pool for a positional read.
// The store keeps it coherent: it drops a slot whenever the index forgets or replaces the
// entry, and only caches a read whose entry still sits where the read started.

export class ReadCache {
  readonly #entries = new Map<string, Buffer>();
  readonly #maxBytes: number;
  readonly #maxEntryBytes: number;
  #bytes = 0;

  constructor(maxBytes: number, maxEntryBytes = 64 * 1024) {
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
    if (data.length > this.#maxEntryBytes || this.#maxBytes === 0) return;
    this.delete(slot);
    let own = data;
    if (data.byteOffset !== 0 || data.buffer.byteLength !== data.length) {
      own = Buffer.allocUnsafeSlow(data.length); // unpooled: its own backing store
      data.copy(own);
    }
    this.#entries.set(slot, own);
    this.#bytes += own.length;
    for (const [k, v] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= v.length;
    }
  }

  delete(slot: string): void {
    const data = this.#entries.get(slot);
    if (data === undefined) return;
    this.#entries.delete(slot);
    this.#bytes -= data.length;
  }
}
