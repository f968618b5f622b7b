// An in-memory store: the reference implementation of the Store contract, used by unit
// tests and as a small hot tier. LRU order is the Map's insertion order (a touch re-inserts).
// It has no namespace quotas and reports no usage per namespace: those are the disk
// store's (storage/disk/namespace-table.ts), the tier a server's namespaces live in.
import { ErrorCode, HoardError } from '../core/errors.ts';
import { keyString, type Key } from '../core/keys.ts';
import { checkPut, putReceiveOptions } from './check-put.ts';
import { receive } from '../core/receive.ts';
import { isEmptyBlobKey } from './empty-blob.ts';
import { inMemoryEntry } from './in-memory-entry.ts';
import { InFlight } from './in-flight.ts';
import { resolveRange } from './range.ts';
import { SingleFlight } from './single-flight.ts';
import type { Body, Entry, PutOptions, PutOutcome, ReadOptions, Store, StoreUsage } from './store.ts';

export interface MemoryStoreOptions {
  /** Bound on stored bytes; 0 = unbounded. */
  readonly maxBytes?: number;
}

export class MemoryStore implements Store {
  readonly #entries = new Map<string, Buffer>();
  readonly #flights = new SingleFlight();
  readonly #puts = new InFlight();
  readonly #maxBytes: number;
  #bytes = 0;
  #evictions = 0;
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 0;
  }

  async has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    return keys.map((k, i) => {
      if (isEmptyBlobKey(k)) return sizes === undefined || sizes[i] === 0;
      const data = this.#touch(keyString(k));
      return data !== undefined && (sizes === undefined || sizes[i] === data.byteLength);
    });
  }

  async stat(key: Key): Promise<number | undefined> {
    if (isEmptyBlobKey(key)) return 0;
    return this.#touch(keyString(key))?.byteLength;
  }

  async get(key: Key, options: ReadOptions = {}): Promise<Entry | undefined> {
    const data = isEmptyBlobKey(key) ? Buffer.alloc(0) : this.#touch(keyString(key));
    if (data === undefined) return undefined;
    const { start, end } = resolveRange(data.byteLength, options.offset, options.limit);
    return inMemoryEntry(data.byteLength, data.subarray(start, end));
  }

  async getBytes(key: Key): Promise<Buffer | undefined> {
    if (isEmptyBlobKey(key)) return Buffer.alloc(0);
    return this.#touch(keyString(key));
  }

  async put(key: Key, body: Body, options: PutOptions = {}): Promise<PutOutcome> {
    this.#checkOpen();
    return this.#puts.track(this.#put(key, body, options));
  }

  async #put(key: Key, body: Body, options: PutOptions): Promise<PutOutcome> {
    checkPut(key, options, this.#maxBytes);
    const id = keyString(key);
    if (key.keyspace !== 'cas') {
      await this.#receiveAndPublish(key, id, body, options);
      return 'created';
    }
    return this.#flights.put(
      id,
      body,
      putReceiveOptions(key, options, this.#maxBytes),
      () => isEmptyBlobKey(key) || this.#entries.has(id),
      async () => {
        await this.#receiveAndPublish(key, id, body, options);
        return 'created';
      },
    );
  }

  async #receiveAndPublish(key: Key, id: string, body: Body, options: PutOptions): Promise<void> {
    const chunks: Uint8Array[] = [];
    const { size } = await receive(body, putReceiveOptions(key, options, this.#maxBytes), (c) => {
      chunks.push(Buffer.from(c));
    });
    const data = Buffer.concat(chunks, size);
    this.#makeRoom(data.byteLength, id);
    const old = this.#entries.get(id);
    if (old) this.#bytes -= old.byteLength;
    this.#entries.delete(id);
    this.#entries.set(id, data);
    this.#bytes += data.byteLength;
  }

  async delete(key: Key): Promise<boolean> {
    const id = keyString(key);
    const data = this.#entries.get(id);
    if (!data) return false;
    this.#entries.delete(id);
    this.#bytes -= data.byteLength;
    return true;
  }

  usage(): StoreUsage {
    return {
      bytes: this.#bytes,
      maxBytes: this.#maxBytes,
      effectiveMaxBytes: this.#maxBytes,
      entries: this.#entries.size,
      evictions: this.#evictions,
    };
  }

  /** Refuses new puts at once, then waits for the ones in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#puts.settled();
  }

  #touch(id: string): Buffer | undefined {
    const data = this.#entries.get(id);
    if (data === undefined) return undefined;
    this.#entries.delete(id);
    this.#entries.set(id, data);
    return data;
  }

  #makeRoom(incoming: number, replacing: string): void {
    if (this.#maxBytes === 0) return;
    if (incoming > this.#maxBytes) {
      throw new HoardError(
        ErrorCode.InsufficientStorage,
        `entry of ${incoming} bytes exceeds the store's bound of ${this.#maxBytes}`,
      );
    }
    const reclaimed = this.#entries.get(replacing)?.byteLength ?? 0;
    for (const [id, data] of this.#entries) {
      if (this.#bytes - reclaimed + incoming <= this.#maxBytes) break;
      if (id === replacing) continue;
      this.#entries.delete(id);
      this.#bytes -= data.byteLength;
      this.#evictions++;
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new HoardError(ErrorCode.Unavailable, 'the store is closed');
  }
}
