// The disk store's reads: existence checks, sizes and entries, from the in-memory index,
// the read cache and the files. Every lookup refreshes the entry in the LRU. Reads never
// wait for the writer: a segment is pinned while it is read (segment.ts), and an own file is
// opened before its stream starts, so eviction or replacement meanwhile cannot take the
// bytes away from a read that began.
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { BufferPool } from '../../core/buffer-pool.ts';
import type { Key } from '../../core/keys.ts';
import { isEmptyBlobKey, isEmptyDigest } from '../empty-blob.ts';
import { spanEntry } from '../file-span-entry.ts';
import { inMemoryEntry } from '../in-memory-entry.ts';
import { resolveRange } from '../range.ts';
import type { Entry, ReadOptions } from '../store.ts';
import { NO_BYTES, OWN_FILE } from './entry-index.ts';
import { blobPath } from './layout.ts';
import { READ_CACHE_MAX_ENTRY } from './read-cache.ts';
import { lookupSlot, SLOT_BYTES, slotOf } from './slot.ts';
import type { StoreState } from './store-state.ts';

export class EntryReader {
  readonly #s: StoreState;
  // Reads of entries too big for the cache: 32 MiB kept for reuse covers 32 concurrent
  // reads of up to 1 MiB.
  readonly #readBuffers = new BufferPool(32 * 1024 * 1024);

  constructor(state: StoreState) {
    this.#s = state;
  }

  async has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    const index = this.#s.index;
    const scratch = Buffer.allocUnsafe(SLOT_BYTES);
    return keys.map((k, i) => {
      if (isEmptyBlobKey(k)) return sizes === undefined || sizes[i] === 0;
      const id = index.find(lookupSlot(k, scratch));
      if (id < 0 || (sizes !== undefined && index.entrySize(id) !== sizes[i])) return false;
      index.touch(id);
      return true;
    });
  }

  async hasDigests(digests: Uint8Array, sizes?: ArrayLike<number>): Promise<Uint8Array> {
    const index = this.#s.index;
    const present = new Uint8Array(digests.byteLength / SLOT_BYTES);
    for (let i = 0; i < present.length; i++) {
      // A default-namespace CAS key's slot is its digest (slot.ts).
      const slot = digests.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES);
      if (isEmptyDigest(slot)) {
        present[i] = sizes === undefined || sizes[i] === 0 ? 1 : 0;
        continue;
      }
      const id = index.find(slot);
      if (id < 0 || (sizes !== undefined && index.entrySize(id) !== sizes[i])) continue;
      index.touch(id);
      present[i] = 1;
    }
    return present;
  }

  async stat(key: Key): Promise<number | undefined> {
    if (isEmptyBlobKey(key)) return 0;
    const index = this.#s.index;
    const id = index.find(lookupSlot(key, Buffer.allocUnsafe(SLOT_BYTES)));
    if (id < 0) return undefined;
    index.touch(id);
    return index.entrySize(id);
  }

  async get(key: Key, options: ReadOptions = {}): Promise<Entry | undefined> {
    if (isEmptyBlobKey(key)) {
      resolveRange(0, options.offset, options.limit);
      return { size: 0, stream: Readable.from([], { objectMode: false }) };
    }
    const index = this.#s.index;
    const slot = slotOf(key);
    const id = index.find(slot);
    if (id < 0) return undefined;
    index.touch(id);
    const size = index.entrySize(id);
    const { start, end } = resolveRange(size, options.offset, options.limit);
    const segId = index.segment(id);
    if (segId === NO_BYTES) return { size: 0, stream: Readable.from([], { objectMode: false }) };
    if (segId !== OWN_FILE) {
      if (size > READ_CACHE_MAX_ENTRY && options.inPlace)
        return this.#segmentSpan(segId, index.offset(id), size, start, end);
      if (size > READ_CACHE_MAX_ENTRY) return this.#readPooled(id, size, start, end);
      const data = await this.#readSegmentEntry(slot, id);
      return inMemoryEntry(size, start === 0 && end === size ? data : data.subarray(start, end));
    }
    // Open first: once we hold the descriptor, eviction can unlink the name but not the bytes.
    let fh: FileHandle;
    try {
      fh = await open(blobPath(this.#s.dir, slot, index.offset(id)), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // evicted meanwhile
      throw err;
    }
    if (start === end) {
      await fh.close();
      return { size, stream: Readable.from([], { objectMode: false }) };
    }
    return ownFileEntry(fh, size, start, end);
  }

  async getBytes(key: Key, options: { signal?: AbortSignal } = {}): Promise<Buffer | undefined> {
    if (isEmptyBlobKey(key)) return Buffer.alloc(0);
    const index = this.#s.index;
    const slot = slotOf(key);
    const id = index.find(slot);
    if (id < 0) return undefined;
    index.touch(id);
    const segId = index.segment(id);
    if (segId === NO_BYTES) return Buffer.alloc(0);
    if (segId !== OWN_FILE) return this.#readSegmentEntry(slot, id);
    const entry = await this.get(key, options);
    if (!entry) return undefined;
    const chunks: Buffer[] = [];
    for await (const c of entry.stream) chunks.push(c as Buffer);
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  }

  /**
   * A segment entry too big for the read cache, for a reader of its own descriptor: the
   * segment is pinned (its descriptor stays open, even if compaction removes it) until the
   * reader closes the entry.
   */
  #segmentSpan(segId: number, at: number, size: number, start: number, end: number): Entry {
    const segment = this.#s.segments.get(segId)!;
    return spanEntry(size, { fd: segment.fd, start: at + start, length: end - start }, segment.pin());
  }

  /** A segment entry too big for the read cache, read into a pooled buffer its reader releases. */
  async #readPooled(id: number, size: number, start: number, end: number): Promise<Entry> {
    const index = this.#s.index;
    const buf = this.#readBuffers.acquire(size);
    let data: Buffer;
    try {
      data = await this.#s.segments.get(index.segment(id))!.read(index.offset(id), size, buf);
    } catch (err) {
      this.#readBuffers.release(buf);
      throw err;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#readBuffers.release(buf);
    };
    return inMemoryEntry(size, start === 0 && end === size ? data : data.subarray(start, end), release);
  }

  /** A whole segment entry, from the cache or the segment (then cached if still current). */
  async #readSegmentEntry(slot: Buffer, id: number): Promise<Buffer> {
    const { index, cache } = this.#s;
    const cacheKey = slot.toString('latin1');
    const cached = cache.get(cacheKey);
    if (cached) return cached;
    const segId = index.segment(id);
    const offset = index.offset(id);
    const data = await this.#s.segments.get(segId)!.read(offset, index.entrySize(id));
    // Cache only if the entry was not replaced or moved while we read.
    const now = index.find(slot);
    if (now >= 0 && index.segment(now) === segId && index.offset(now) === offset) cache.set(cacheKey, data);
    return data;
  }
}

/**
 * An entry in a file of its own, held open: its stream is made only when asked for, so a
 * consumer that reads through `file` instead pays for no stream machinery or per-chunk
 * buffers.
 */
function ownFileEntry(fh: FileHandle, size: number, start: number, end: number): Entry {
  let stream: Readable | undefined;
  let closing: Promise<void> | undefined;
  return {
    size,
    get stream(): Readable {
      return (stream ??= fh.createReadStream({ start, end: end - 1, autoClose: true, highWaterMark: 256 * 1024 }));
    },
    file: {
      async read(buffer, offset) {
        const length = Math.min(buffer.byteLength, end - start - offset);
        if (length <= 0) return 0;
        const { bytesRead } = await fh.read(buffer, 0, length, start + offset);
        return bytesRead;
      },
      close: () => (closing ??= fh.close()),
      span: { fd: fh.fd, start, length: end - start },
    },
  };
}
