// The embedded disk store: hoard's default tier.
//
// Writes (rule 1): a put is received into memory (small entries) or into a private temp
// file written through one handle (large ones), hashed and size-checked on the way in, and
// handed to the single writer only when whole and verified. The writer places small
// entries in the active segment and has the commit worker (commit-syncer.ts) write them,
// make them durable (fdatasync), append the index records to the journal and make those
// durable; only then does it publish the entries in the in-memory index. So nothing is
// visible before it is whole, verified and durable, and an existence check never reports
// an entry whose bytes could be missing after a crash.
//
// Group commit: puts that arrive while the writer is committing wait for the next batch,
// so one fdatasync covers many small puts.
//
// Eviction: exact LRU over entries, bounded by bytes on disk. Evicting from a segment that
// still holds live entries frees nothing until the segment is compacted (its live entries
// copied forward), which the writer does when dead space, not live data, is the problem.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { BufferPool } from '../../core/buffer-pool.ts';
import { ErrorCode, HoardError, toHoardError } from '../../core/errors.ts';
import type { Key } from '../../core/keys.ts';
import { checkPut, putReceiveOptions } from '../check-put.ts';
import { CommitFailed, CommitSyncer, type CommitRequest } from './commit-syncer.ts';
import { receive } from '../../core/receive.ts';
import { isEmptyBlobKey } from '../empty-blob.ts';
import { InFlight } from '../in-flight.ts';
import { inMemoryEntry } from '../in-memory-entry.ts';
import { resolveRange } from '../range.ts';
import { SingleFlight } from '../single-flight.ts';
import type { Body, Entry, PutOptions, PutOutcome, ReadOptions, Store, StoreUsage } from '../store.ts';
import { lockDir, type DirLock } from './dir-lock.ts';
import { EntryIndex, NO_BYTES, OWN_FILE } from './entry-index.ts';
import {
  encodeDelete,
  encodeMove,
  encodePut,
  Op,
  scanJournal,
  seal,
  setLocation,
  type EncodedRecord,
} from './journal.ts';
import { rewriteJournal } from './journal-rewrite.ts';
import { blobPath, diskFootprint, journalPath, segmentsDir, tmpDir } from './layout.ts';
import { recoverStore, type RecoveryReport } from './recovery.ts';
import { READ_CACHE_MAX_ENTRY, ReadCache } from './read-cache.ts';
import { PipelinedFileWriter } from './pipelined-file-writer.ts';
import { Segment } from './segment.ts';
import { lookupSlot, SLOT_BYTES, slotOf } from './slot.ts';
import { syncDir } from './sync-dir.ts';

export type { RecoveryReport } from './recovery.ts';

export type Durability = 'fsync' | 'none';

export interface DiskStoreOptions {
  /** The store directory; created if missing. */
  readonly dir: string;
  /** Bound on bytes on disk; 0 = unbounded. */
  readonly maxBytes: number;
  /**
   * 'fsync' (default): an acknowledged put survives a process crash and a power loss.
   * 'none': survives a process crash only (the OS still holds the bytes); for caches on
   * throwaway disks. Run `hoard fsck` after a power loss.
   */
  readonly durability?: Durability;
  /** Entries up to this size are packed into segments; larger ones get a file each. */
  readonly smallEntryBytes?: number;
  /** Memory for recently used entries of up to 64 KiB (default 64 MiB; 0 disables). */
  readonly readCacheBytes?: number;
  /** A segment is sealed once it reaches this size. */
  readonly segmentBytes?: number;
  /**
   * The journal is rewritten (one record per live entry) once it holds this many records
   * more than twice the entries. Default 100,000; tests set it low.
   */
  readonly journalCompactionSlack?: number;
}

export interface DiskStore extends Store {
  readonly dir: string;
  /** What opening found and repaired, for the startup log line. */
  readonly recovery: RecoveryReport;
  /** Bytes held by the in-memory index. */
  readonly indexMemoryBytes: number;
}

export async function openDiskStore(options: DiskStoreOptions): Promise<DiskStore> {
  const store = new DiskStoreImpl(options);
  await store.open();
  return store;
}

const DEFAULT_SMALL_ENTRY = 1024 * 1024;
const LIVE_TARGET = 0.95; // evict until live data leaves this much room; the rest feeds compaction
// A large put fdatasyncs as it goes, so the disk drains while later bytes hash.
const FLUSH_EVERY_BYTES = 8 * 1024 * 1024;
// Segment data one commit writes at most: bounds the commit worker's arena and keeps one
// commit from holding up the puts queued behind it.
const BATCH_DATA_BYTES = 32 * 1024 * 1024;

type WriterOp =
  // `place`: where the commit put the bytes (none for an empty entry).
  | { kind: 'append'; slot: Buffer; record: EncodedRecord; data: Parts; place?: Place; done: Deferred }
  | {
      kind: 'publish';
      slot: Buffer;
      record: EncodedRecord;
      size: number;
      generation: number;
      reserved: number;
      done: Deferred;
    }
  | { kind: 'reserve'; bytes: number; done: Deferred }
  | { kind: 'delete'; slot: Buffer; record: EncodedRecord; done: Deferred<boolean> };

/** An entry's bytes as the views they arrived in (a 128 KiB upload is about nine), never joined. */
interface Parts {
  readonly buffers: readonly Buffer[];
  readonly size: number;
}

/** Where an entry's bytes were written. */
interface Place {
  readonly seg: Segment;
  readonly offset: number;
}

interface SegmentWrite extends Place {
  readonly data: Parts;
}

interface Move {
  readonly slot: Buffer;
  readonly size: number;
  readonly from: number;
  readonly fromOffset: number;
  readonly to: number;
  readonly toOffset: number;
}

/** What one group commit has decided so far. */
interface Batch {
  /** Eviction and move records, journaled before the puts. */
  readonly frames: Buffer[];
  /** The eviction records among `frames` (the index forgot those entries already). */
  readonly evictions: Buffer[];
  /** Put and delete records of the batch's own ops. */
  readonly putFrames: Buffer[];
  /** Unlinks and segment removals, run once the journal no longer references the bytes. */
  readonly afterSync: (() => Promise<void>)[];
  readonly moves: Move[];
  /** Segments that received copies in this batch: their entries' moves are not published
   *  yet, so they must not be compacted away in the same batch. */
  readonly touched: Set<number>;
  /** Bytes the batch will add to the disk (data and journal records) not yet counted. */
  pendingBytes: number;
  /** Segment data to write in this commit, each at its reserved place. */
  readonly writes: SegmentWrite[];
  /** Set once the journal holds the batch's records: from then on nothing is taken back. */
  journaled: boolean;
}

interface Deferred<T = void> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

class DiskStoreImpl implements DiskStore {
  readonly dir: string;
  readonly #maxBytes: number;
  readonly #fsync: boolean;
  readonly #smallEntryBytes: number;
  readonly #segmentBytes: number;
  readonly #index = new EntryIndex(1024);
  #segments = new Map<number, Segment>();
  readonly #flights = new SingleFlight();
  readonly #puts = new InFlight();
  readonly #queue: WriterOp[] = [];
  #writer: Promise<void> | undefined;
  #active!: Segment;
  #journal!: FileHandle;
  /** Set when a failed journal append could not be cut back off: no write is safe then. */
  #journalBroken: HoardError | undefined;
  /**
   * What a failed commit's evictions left undone: the index forgot those entries when they
   * were chosen, so the next commit journals their records (before its own) and runs their
   * cleanups; without it they came back at the next open, and their bytes were never freed.
   */
  #carried: { readonly frames: Buffer[]; readonly afterSync: (() => Promise<void>)[] } = { frames: [], afterSync: [] };
  #journalSize = 0;
  #journalRecords = 0;
  readonly #journalSlack: number;
  #journalCompactAt = 0; // records above which the next rewrite is tried (raised after a failure)
  #lock!: DirLock;
  #ownFileBytes = 0; // footprint of entries in files of their own
  #liveBytes = 0; // sizes of all indexed entries
  #reserved = 0; // space promised to large puts still being received
  #evictions = 0;
  #generation = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #blobDirs = new Set<string>();
  readonly #cache: ReadCache;
  readonly #syncer = new CommitSyncer();
  // Reads of entries too big for the cache: 32 MiB kept for reuse covers 32 concurrent
  // reads of up to 1 MiB.
  readonly #readBuffers = new BufferPool(32 * 1024 * 1024);
  recovery!: RecoveryReport;

  constructor(options: DiskStoreOptions) {
    this.dir = path.resolve(options.dir);
    this.#maxBytes = options.maxBytes;
    this.#fsync = (options.durability ?? 'fsync') === 'fsync';
    this.#smallEntryBytes = options.smallEntryBytes ?? DEFAULT_SMALL_ENTRY;
    this.#journalSlack = options.journalCompactionSlack ?? 100_000;
    this.#cache = new ReadCache(options.readCacheBytes ?? 64 * 1024 * 1024);
    const fitted = this.#maxBytes > 0 ? Math.floor(this.#maxBytes / 16) : 64 * 1024 * 1024;
    this.#segmentBytes = options.segmentBytes ?? Math.max(this.#smallEntryBytes, Math.min(64 * 1024 * 1024, fitted));
  }

  get indexMemoryBytes(): number {
    return this.#index.memoryBytes;
  }

  // ---- opening and recovery ------------------------------------------------------------

  async open(): Promise<void> {
    const started = performance.now();
    await mkdir(this.dir, { recursive: true });
    this.#lock = await lockDir(this.dir);
    try {
      await this.#recover(started);
    } catch (err) {
      await this.#lock.release();
      throw err;
    }
  }

  async #recover(started: number): Promise<void> {
    const r = await recoverStore(this.dir, this.#index, started);
    this.#segments = r.segments;
    this.#active = r.active;
    this.#journal = r.journal;
    this.#journalSize = r.journalSize;
    this.#journalRecords = r.journalRecords;
    this.#ownFileBytes = r.ownFileBytes;
    this.#liveBytes = r.liveBytes;
    this.#generation = r.generation;
    this.recovery = r.report;
  }

  // ---- reads -----------------------------------------------------------------------------

  async has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    const scratch = Buffer.allocUnsafe(SLOT_BYTES);
    return keys.map((k, i) => {
      if (isEmptyBlobKey(k)) return sizes === undefined || sizes[i] === 0;
      const id = this.#index.find(lookupSlot(k, scratch));
      if (id < 0 || (sizes !== undefined && this.#index.entrySize(id) !== sizes[i])) return false;
      this.#index.touch(id);
      return true;
    });
  }

  async stat(key: Key): Promise<number | undefined> {
    if (isEmptyBlobKey(key)) return 0;
    const id = this.#index.find(lookupSlot(key, Buffer.allocUnsafe(SLOT_BYTES)));
    if (id < 0) return undefined;
    this.#index.touch(id);
    return this.#index.entrySize(id);
  }

  async get(key: Key, options: ReadOptions = {}): Promise<Entry | undefined> {
    if (isEmptyBlobKey(key)) {
      resolveRange(0, options.offset, options.limit);
      return { size: 0, stream: Readable.from([], { objectMode: false }) };
    }
    const slot = slotOf(key);
    const id = this.#index.find(slot);
    if (id < 0) return undefined;
    this.#index.touch(id);
    const size = this.#index.entrySize(id);
    const { start, end } = resolveRange(size, options.offset, options.limit);
    const segId = this.#index.segment(id);
    if (segId === NO_BYTES) return { size: 0, stream: Readable.from([], { objectMode: false }) };
    if (segId !== OWN_FILE) {
      if (size > READ_CACHE_MAX_ENTRY) return this.#readPooled(id, size, start, end);
      const data = await this.#readSegmentEntry(slot, id);
      return inMemoryEntry(size, start === 0 && end === size ? data : data.subarray(start, end));
    }
    // Open first: once we hold the descriptor, eviction can unlink the name but not the bytes.
    let fh: FileHandle;
    try {
      fh = await open(blobPath(this.dir, slot, this.#index.offset(id)), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // evicted meanwhile
      throw err;
    }
    if (start === end) {
      await fh.close();
      return { size, stream: Readable.from([], { objectMode: false }) };
    }
    return { size, stream: fh.createReadStream({ start, end: end - 1, autoClose: true, highWaterMark: 256 * 1024 }) };
  }

  async getBytes(key: Key, options: { signal?: AbortSignal } = {}): Promise<Buffer | undefined> {
    if (isEmptyBlobKey(key)) return Buffer.alloc(0);
    const slot = slotOf(key);
    const id = this.#index.find(slot);
    if (id < 0) return undefined;
    this.#index.touch(id);
    const segId = this.#index.segment(id);
    if (segId === NO_BYTES) return Buffer.alloc(0);
    if (segId !== OWN_FILE) return this.#readSegmentEntry(slot, id);
    const entry = await this.get(key, options);
    if (!entry) return undefined;
    const chunks: Buffer[] = [];
    for await (const c of entry.stream) chunks.push(c as Buffer);
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  }

  /** A segment entry too big for the read cache, read into a pooled buffer its reader releases. */
  async #readPooled(id: number, size: number, start: number, end: number): Promise<Entry> {
    const buf = this.#readBuffers.acquire(size);
    let data: Buffer;
    try {
      data = await this.#segments.get(this.#index.segment(id))!.read(this.#index.offset(id), size, buf);
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
    const cacheKey = slot.toString('latin1');
    const cached = this.#cache.get(cacheKey);
    if (cached) return cached;
    const segId = this.#index.segment(id);
    const offset = this.#index.offset(id);
    const data = await this.#segments.get(segId)!.read(offset, this.#index.entrySize(id));
    // Cache only if the entry was not replaced or moved while we read.
    const now = this.#index.find(slot);
    if (now >= 0 && this.#index.segment(now) === segId && this.#index.offset(now) === offset)
      this.#cache.set(cacheKey, data);
    return data;
  }

  // ---- writes ----------------------------------------------------------------------------

  async put(key: Key, body: Body, options: PutOptions = {}): Promise<PutOutcome> {
    this.#checkOpen();
    return this.#puts.track(this.#put(key, body, options));
  }

  async #put(key: Key, body: Body, options: PutOptions): Promise<PutOutcome> {
    checkPut(key, options, this.#maxBytes);
    const slot = slotOf(key);
    if (key.keyspace !== 'cas') return this.#write(key, slot, body, options);

    // CAS: single flight per blob (rule 1: concurrent uploads of one digest are safe).
    return this.#flights.put(
      slot.toString('latin1'),
      body,
      putReceiveOptions(key, options, this.#maxBytes),
      () => isEmptyBlobKey(key) || this.#index.find(slot) >= 0,
      () => this.#write(key, slot, body, options),
    );
  }

  async #write(key: Key, slot: Buffer, body: Body, options: PutOptions): Promise<PutOutcome> {
    // A body in memory has a known size even when none was declared (AC puts from gRPC):
    // it belongs in a segment, not in a 4 KiB file of its own with two fsyncs.
    const known = options.size ?? (body instanceof Uint8Array ? body.byteLength : undefined);
    if (known !== undefined && known <= this.#smallEntryBytes) {
      const buffers: Buffer[] = [];
      const { size, crc } = await this.#receive(key, body, options, (c) => {
        if (c.byteLength > 0) buffers.push(Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength));
      });
      const record = encodePut(slot, key, size, crc);
      await this.#enqueue<void>((done) => ({ kind: 'append', slot, record, data: { buffers, size }, done }));
      return 'created';
    }
    return this.#writeOwnFile(key, slot, body, options, known ?? 0);
  }

  /** `reserved`: the size known in advance, 0 when unknown (room is then made at publish). */
  async #writeOwnFile(key: Key, slot: Buffer, body: Body, options: PutOptions, reserved: number): Promise<PutOutcome> {
    if (reserved > 0) await this.#enqueue<void>((done) => ({ kind: 'reserve', bytes: diskFootprint(reserved), done }));
    const tmp = path.join(tmpDir(this.dir), randomBytes(12).toString('hex'));
    let fh: FileHandle | undefined;
    let writer: PipelinedFileWriter | undefined;
    try {
      fh = await open(tmp, 'wx');
      writer = new PipelinedFileWriter(fh, { flushEveryBytes: this.#fsync ? FLUSH_EVERY_BYTES : 0 });
      const sink = writer;
      const { size, crc } = await this.#receive(key, body, options, (c) => sink.push(c));
      await writer.finish();
      if (this.#fsync) await fh.sync();
      await fh.close();
      fh = undefined;
      const record = encodePut(slot, key, size, crc);
      const generation = this.#generation++;
      const final = blobPath(this.dir, slot, generation);
      await this.#ensureBlobDir(path.dirname(final));
      await rename(tmp, final);
      if (this.#fsync) await syncDir(path.dirname(final));
      setLocation(record, OWN_FILE, generation);
      await this.#enqueue<void>((done) => ({
        kind: 'publish',
        slot,
        record,
        size,
        generation,
        reserved: diskFootprint(reserved),
        done,
      })).catch(async (err) => {
        await unlink(final).catch(() => undefined);
        throw err;
      });
      return 'created';
    } catch (err) {
      await writer?.abandon();
      if (fh) await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      if (reserved > 0) this.#reserved -= diskFootprint(reserved);
      throw toHoardError(err);
    }
  }

  /**
   * Receives a put's body into `sink`, verified. `crc`: the crc32 of the bytes for AC and raw
   * entries; 0 for CAS ones, whose hash verifies them (fsck re-hashes CAS, never reads it).
   */
  async #receive(
    key: Key,
    body: Body,
    options: PutOptions,
    sink: (c: Uint8Array) => void | Promise<void>,
  ): Promise<{ size: number; crc: number }> {
    const raw = key.keyspace !== 'cas';
    let crc = 0;
    const { size } = await receive(body, putReceiveOptions(key, options, this.#maxBytes), (c) => {
      if (raw) crc = crc32(c, crc);
      return sink(c);
    });
    return { size, crc };
  }

  async delete(key: Key): Promise<boolean> {
    this.#checkOpen();
    const slot = slotOf(key);
    if (this.#index.find(slot) < 0) return false;
    return this.#enqueue<boolean>((done) => ({ kind: 'delete', slot, record: encodeDelete(slot), done }));
  }

  usage(): StoreUsage {
    return {
      bytes: this.#diskBytes(),
      maxBytes: this.#maxBytes,
      effectiveMaxBytes: this.#maxBytes,
      entries: this.#index.size,
      evictions: this.#evictions,
    };
  }

  /** Refuses new puts and deletes at once, waits for the puts in flight, then closes files. */
  close(): Promise<void> {
    this.#closed = true;
    return (this.#closing ??= this.#close());
  }

  async #close(): Promise<void> {
    await this.#puts.settled();
    while (this.#writer) await this.#writer;
    // Evictions a failed commit left unjournaled, while the journal can still take them.
    if (this.#carried.frames.length > 0 || this.#carried.afterSync.length > 0)
      await this.#commit([]).catch(() => undefined);
    await this.#syncer.close();
    await this.#journal.close();
    for (const seg of this.#segments.values()) {
      if (seg === this.#active && seg.size === 0) await seg.remove();
      else await seg.close();
    }
    await this.#lock.release();
  }

  // ---- the single writer -----------------------------------------------------------------

  #enqueue<T>(make: (done: Deferred<T>) => WriterOp): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(make({ resolve, reject }));
      this.#startWriter();
    });
  }

  #startWriter(): void {
    this.#writer ??= this.#runWriter().finally(() => {
      this.#writer = undefined;
      // An op queued after the writer's last look at the queue but before this callback
      // (a put resolved by the last commit can enqueue its successor in between) would
      // otherwise wait forever.
      if (this.#queue.length > 0) this.#startWriter();
    });
  }

  async #runWriter(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#batchLength());
      try {
        await this.#commit(batch);
      } catch (err) {
        const e = toHoardError(err);
        for (const op of batch) op.done.reject(e);
      }
    }
  }

  /** How many queued ops the next commit takes: all, up to BATCH_DATA_BYTES of segment data (at least one). */
  #batchLength(): number {
    let bytes = 0;
    for (let i = 0; i < this.#queue.length; i++) {
      const op = this.#queue[i]!;
      if (op.kind === 'append') bytes += op.data.size;
      if (bytes > BATCH_DATA_BYTES && i > 0) return i;
    }
    return this.#queue.length;
  }

  /**
   * One group commit: make room, append data, sync, journal, sync, publish, clean up. A
   * commit that fails before its journal write leaves its evictions to the next one.
   */
  async #commit(batch: WriterOp[]): Promise<void> {
    const carried = this.#carried;
    this.#carried = { frames: [], afterSync: [] };
    const b: Batch = {
      frames: [...carried.frames],
      evictions: [...carried.frames],
      putFrames: [],
      afterSync: [...carried.afterSync],
      moves: [],
      touched: new Set(),
      pendingBytes: carried.frames.reduce((n, f) => n + f.length, 0),
      writes: [],
      journaled: false,
    };
    try {
      await this.#commitBatch(batch, b);
    } catch (err) {
      if (!b.journaled) this.#takeBack(b);
      throw err;
    }
  }

  /**
   * Undoes what a commit that failed before its journal write changed in memory. Its placed
   * bytes were counted live but nothing names them: dead space, or their segment could never
   * be retired or chosen for compaction. Its compaction victims stay, unless its evictions
   * left them empty. Its evictions cannot be undone (the index forgot those entries), so the
   * next commit (or the close) journals them and then removes what they emptied.
   */
  #takeBack(b: Batch): void {
    for (const w of b.writes) w.seg.live -= w.data.size;
    const afterSync = [...b.afterSync];
    for (const seg of [...this.#segments.values()]) {
      seg.retiring = false;
      // A compaction victim whose live entries this commit evicted holds nothing now: it
      // goes with the evictions' delete records, not when compaction next picks it.
      this.#retireIfEmpty(seg.id, afterSync);
    }
    this.#carried = { frames: b.evictions, afterSync };
  }

  async #commitBatch(batch: WriterOp[], b: Batch): Promise<void> {
    const accepted: WriterOp[] = [];
    for (const op of batch) {
      // Room for the data and for the op's own journal record (a delete's too: a full store
      // that took delete records for free grew past its bound).
      const frame = op.kind === 'reserve' ? 0 : op.record.frame.length;
      const need =
        frame +
        (op.kind === 'append' ? op.data.size : op.kind === 'reserve' ? op.bytes : 0) +
        // A file of its own takes what it was not reserved (all of it when no size was declared).
        (op.kind === 'publish' ? diskFootprint(op.size) - op.reserved : 0);
      if (need > 0 && !(await this.#makeRoom(need, b))) {
        op.done.reject(
          new HoardError(
            ErrorCode.InsufficientStorage,
            `no room for ${need} bytes even after eviction (bound ${this.#maxBytes})`,
          ),
        );
        continue;
      }
      if (op.kind === 'reserve') {
        this.#reserved += op.bytes;
        op.done.resolve();
        continue;
      }
      b.pendingBytes += need;
      accepted.push(op);
    }
    // Placed once room is made (placing counts the bytes on disk, which pendingBytes did).
    for (const op of accepted) {
      if (op.kind !== 'append') continue;
      if (op.data.size === 0) {
        setLocation(op.record, NO_BYTES, 0);
        continue;
      }
      op.place = await this.#placeInBatch(op.data, op.record, b);
    }

    // 1. Data first (puts' and compaction's copies), durable before any record points at it.
    // 2. Then the journal: evictions and moves, then puts, then deletes. Puts after the
    //    evictions, so an eviction of a value a put in this batch replaces cannot win on replay.
    for (const op of accepted) if (op.kind !== 'reserve') b.putFrames.push(seal(op.record));
    const frames = [...b.frames, ...b.putFrames];
    await this.#makeDurable(b.writes, frames);
    b.journaled = true;
    this.#journalRecords += frames.length;

    // 3. Publish, in journal order, so memory matches what a replay would build.
    for (const m of b.moves) {
      const id = this.#index.find(m.slot);
      if (id >= 0 && this.#index.segment(id) === m.from && this.#index.offset(id) === m.fromOffset) {
        this.#index.relocate(id, m.to, m.toOffset);
      } else {
        // Evicted or replaced meanwhile: the copy is dead space.
        this.#segments.get(m.to)!.live -= m.size;
        this.#retireIfEmpty(m.to, b.afterSync);
      }
    }
    for (const seg of [...this.#segments.values()]) {
      if (!seg.retiring) continue;
      this.#segments.delete(seg.id);
      b.afterSync.push(() => seg.remove());
    }
    for (const op of accepted) {
      if (op.kind === 'append') {
        this.#forget(op.slot, b.afterSync);
        this.#index.set(op.slot, op.place?.seg.id ?? NO_BYTES, op.place?.offset ?? 0, op.data.size);
        this.#cache.set(op.slot.toString('latin1'), op.data.buffers);
        this.#liveBytes += op.data.size;
        op.done.resolve();
      } else if (op.kind === 'publish') {
        this.#forget(op.slot, b.afterSync);
        this.#index.set(op.slot, OWN_FILE, op.generation, op.size);
        this.#reserved -= op.reserved;
        this.#ownFileBytes += diskFootprint(op.size);
        this.#liveBytes += op.size;
        op.done.resolve();
      } else if (op.kind === 'delete') {
        op.done.resolve(this.#forget(op.slot, b.afterSync));
      }
    }
    // 4. Only now may bytes the journal no longer references go.
    for (const clean of b.afterSync) await clean();
    if (this.#journalRecords > Math.max(2 * this.#index.size + this.#journalSlack, this.#journalCompactAt))
      await this.#compactJournal();
  }

  /**
   * Writes the batch's segment data and syncs it, then appends whole journal records (rule 2)
   * and syncs them, all in one job on the commit worker (syncs only with durability
   * 'fsync'). A journal write or sync that fails is cut back off: records appended after
   * torn bytes would be lost at the next open, which cuts the journal there, and records
   * whose sync failed must not name entries whose puts were refused. If even the cut fails,
   * the store takes no more writes.
   */
  async #makeDurable(writes: readonly SegmentWrite[], frames: readonly Buffer[]): Promise<void> {
    if (this.#journalBroken) throw this.#journalBroken;
    if (writes.length === 0 && frames.length === 0) return;
    const added = frames.reduce((n, f) => n + f.length, 0);
    const request: CommitRequest = {
      writes: writes.map((w) => ({ fd: w.seg.fd, position: w.offset, buffers: w.data.buffers })),
      syncFds: this.#fsync ? [...new Set(writes.map((w) => w.seg.fd))] : [],
      journalFd: this.#journal.fd,
      journalPosition: this.#journalSize,
      records: frames,
      syncJournal: this.#fsync,
    };
    try {
      await this.#syncer.run(request);
    } catch (err) {
      if (!(err instanceof CommitFailed && err.failedAt === 'data')) {
        try {
          await this.#journal.truncate(this.#journalSize);
        } catch {
          this.#journalBroken = new HoardError(
            ErrorCode.Unavailable,
            `the journal could not be repaired after a failed write (${(err as Error).message}); restart the server`,
          );
        }
      }
      throw err;
    }
    this.#journalSize += added;
  }

  /**
   * Places `data` for this commit: counted live at once (so an eviction in the same batch
   * cannot retire its segment; #takeBack undoes it), queued for the commit worker, and named
   * by `record`.
   */
  async #placeInBatch(data: Parts, record: EncodedRecord, b: Batch): Promise<Place> {
    const place = await this.#place(data.size);
    place.seg.live += data.size;
    setLocation(record, place.seg.id, place.offset);
    b.writes.push({ ...place, data });
    return place;
  }

  /** The next `size` bytes of the active segment, rolled first if full. Writer only. */
  async #place(size: number): Promise<Place> {
    if (this.#active.size > 0 && this.#active.size + size > this.#segmentBytes) {
      const next = await Segment.open(this.dir, this.#active.id + 1, true);
      // The new name must be durable before a journal record points into the file.
      if (this.#fsync) await syncDir(segmentsDir(this.dir));
      this.#segments.set(next.id, next);
      this.#active = next;
    }
    const seg = this.#active;
    const offset = seg.size;
    seg.size += size;
    return { seg, offset };
  }

  /** Drops whatever the index holds for `slot`; its bytes go after the journal is synced. */
  #forget(slot: Buffer, afterSync: (() => Promise<void>)[]): boolean {
    const id = this.#index.find(slot);
    if (id < 0) return false;
    this.#cache.delete(slot.toString('latin1'));
    const size = this.#index.entrySize(id);
    const segId = this.#index.segment(id);
    if (segId === NO_BYTES) {
      // nothing on disk
    } else if (segId === OWN_FILE) {
      const file = blobPath(this.dir, slot, this.#index.offset(id));
      this.#ownFileBytes -= diskFootprint(size);
      afterSync.push(() => unlink(file).catch(() => undefined));
    } else {
      this.#segments.get(segId)!.live -= size;
      this.#retireIfEmpty(segId, afterSync);
    }
    this.#liveBytes -= size;
    this.#index.remove(id);
    return true;
  }

  #retireIfEmpty(segId: number, afterSync: (() => Promise<void>)[]): void {
    const seg = this.#segments.get(segId);
    if (!seg || seg === this.#active || seg.retiring || seg.live > 0) return;
    this.#segments.delete(segId);
    afterSync.push(() => seg.remove());
  }

  #diskBytes(): number {
    let segs = 0;
    for (const s of this.#segments.values()) if (!s.retiring) segs += s.size;
    return segs + this.#ownFileBytes + this.#journalSize + this.#reserved;
  }

  /**
   * Frees room for `need` more bytes: evicts least recently used entries while live data
   * is the problem, compacts the segment with the most dead bytes while dead space is.
   * Returns false when even an empty store could not hold it.
   */
  async #makeRoom(need: number, b: Batch): Promise<boolean> {
    if (this.#maxBytes === 0) return true;
    if (need > this.#maxBytes) return false;
    const retiring = new Set<number>();
    while (this.#diskBytes() + b.pendingBytes + need > this.#maxBytes) {
      const liveOver = this.#liveBytes + this.#reserved + b.pendingBytes + need > this.#maxBytes * LIVE_TARGET;
      let victim = liveOver ? undefined : this.#compactionVictim(retiring, b.touched);
      const id = this.#index.lruTail;
      if (!victim && id < 0) victim = this.#compactionVictim(retiring, b.touched);
      if (victim) {
        retiring.add(victim.id);
        await this.#compact(victim, b);
        continue;
      }
      if (id < 0) return false;
      const slot = this.#index.slot(id);
      const del = seal(encodeDelete(slot));
      b.frames.push(del);
      b.evictions.push(del);
      b.pendingBytes += del.length;
      this.#forget(slot, b.afterSync);
      this.#evictions++;
    }
    return true;
  }

  #compactionVictim(exclude: Set<number>, touched: Set<number>): Segment | undefined {
    let best: Segment | undefined;
    for (const s of this.#segments.values()) {
      if (s === this.#active || s.retiring || exclude.has(s.id) || touched.has(s.id) || s.dead === 0) continue;
      if (!best || s.dead > best.dead) best = s;
    }
    return best;
  }

  /** Copies a segment's live entries forward (with move records) and retires it. */
  async #compact(seg: Segment, b: Batch): Promise<void> {
    const copies: { data: Parts; record: EncodedRecord; slot: Buffer; offset: number }[] = [];
    for (const id of this.#index.lruOrder()) {
      if (this.#index.segment(id) !== seg.id) continue;
      const offset = this.#index.offset(id);
      const slot = this.#index.slot(id);
      const size = this.#index.entrySize(id);
      copies.push({ data: { buffers: [await seg.read(offset, size)], size }, record: encodeMove(slot), slot, offset });
    }
    // Placed now, so each move record can carry its final location; written with the batch.
    for (const c of copies) {
      const to = await this.#placeInBatch(c.data, c.record, b);
      b.touched.add(to.seg.id);
      const frame = seal(c.record);
      b.frames.push(frame);
      b.pendingBytes += frame.length;
      b.moves.push({
        slot: c.slot,
        size: c.data.size,
        from: seg.id,
        fromOffset: c.offset,
        to: to.seg.id,
        toOffset: to.offset,
      });
    }
    // Removed once the moves are published (see #commit); counted as freed from now on.
    seg.retiring = true;
  }

  /**
   * Runtime journal rewrite, from the writer, once the journal has become mostly history:
   * one record per live entry. The rewrite goes to a new file that
   * replaces the old one only when complete, so a failure (a full disk, say) leaves the old
   * journal in place: the store reopens whichever journal is there and goes on appending,
   * and tries again only after another `journalCompactionSlack` records.
   */
  async #compactJournal(): Promise<void> {
    const jpath = journalPath(this.dir);
    await this.#journal.close();
    try {
      const image = await readFile(jpath);
      const { records, positions } = scanJournal(image);
      const latestPut = new Map<string, number>();
      for (let i = 0; i < records.length; i++) {
        if (records[i]!.op === Op.Put) latestPut.set(records[i]!.slot.toString('latin1'), positions[i]!);
      }
      await rewriteJournal(this.dir, image, this.#index, (id) =>
        latestPut.get(this.#index.slot(id).toString('latin1')),
      );
      this.#journalRecords = this.#index.size;
      this.#journalCompactAt = 0;
    } catch {
      this.#journalCompactAt = this.#journalRecords + this.#journalSlack;
    } finally {
      this.#journal = await open(jpath, 'r+'); // not O_APPEND: see recoverStore
      this.#journalSize = (await this.#journal.stat()).size;
    }
  }

  /** Creates blobs/<xx>/ once, durably (the directory's own name is synced in its parent). */
  async #ensureBlobDir(dir: string): Promise<void> {
    if (this.#blobDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.#fsync) await syncDir(path.dirname(dir));
    this.#blobDirs.add(dir);
  }

  #checkOpen(): void {
    if (this.#closed) throw new HoardError(ErrorCode.Unavailable, 'the store is closed');
  }
}
