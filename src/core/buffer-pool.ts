// Reusable buffers for reads of large entries. A fresh 128 KiB Buffer per read costs more
// than the read: each is a new ArrayBuffer whose pages the kernel must fault in and zero,
// and whose release waits for the GC. A buffer comes back only through
// `release`, which its last user calls once nothing can read it any more; one never
// released is simply collected, so forgetting is safe and releasing early is the bug to avoid.

export class BufferPool {
  readonly #free = new Map<number, ArrayBuffer[]>(); // by capacity
  readonly #issued = new WeakSet<ArrayBuffer>();
  readonly #idle = new Set<ArrayBuffer>();
  readonly #maxIdleBytes: number;
  #idleBytes = 0;

  /** `maxIdleBytes`: how much released memory is kept for reuse; the rest is dropped. */
  constructor(maxIdleBytes: number) {
    this.#maxIdleBytes = maxIdleBytes;
  }

  /** A buffer of exactly `size` bytes (contents undefined), backed by a power-of-two capacity. */
  acquire(size: number): Buffer {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(size, 4096)));
    const ab = this.#free.get(capacity)?.pop();
    if (ab !== undefined) {
      this.#idle.delete(ab);
      this.#idleBytes -= capacity;
      return Buffer.from(ab, 0, size);
    }
    const fresh = new ArrayBuffer(capacity);
    this.#issued.add(fresh);
    return Buffer.from(fresh, 0, size);
  }

  /** Gives `buf`'s memory back. Buffers this pool did not issue, and repeats, are ignored. */
  release(buf: Uint8Array): void {
    const ab = buf.buffer;
    if (!(ab instanceof ArrayBuffer) || !this.#issued.has(ab) || this.#idle.has(ab)) return;
    if (this.#idleBytes + ab.byteLength > this.#maxIdleBytes) return;
    let list = this.#free.get(ab.byteLength);
    if (!list) this.#free.set(ab.byteLength, (list = []));
    list.push(ab);
    this.#idle.add(ab);
    this.#idleBytes += ab.byteLength;
  }

  get idleBytes(): number {
    return this.#idleBytes;
  }
}
