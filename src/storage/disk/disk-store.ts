// The embedded disk store: hoard's default tier.
//
// Writes (rule 1): a put is received into memory (small entries) or into a private temp
// file written through one handle (large ones), hashed and size-checked on the way in, and
// handed to the single writer only when whole and verified. The writer appends small
// entries to the active segment, makes data durable (fdatasync), then appends index
// records to the journal and makes those durable, and only then publishes the entries in
// the in-memory index. So nothing is visible before it is whole, verified and durable, and
// an existence check never reports an entry whose bytes could be missing after a crash.
//
// Group commit: puts that arrive while the writer is syncing wait for the next batch, so
// one fdatasync covers many small puts (thousands per second on one core).
//
// Eviction: exact LRU over entries, bounded by bytes on disk. Evicting from a segment that
// still holds live entries frees nothing until the segment is compacted (its live entries
// copied forward), which the writer does when dead space, not live data, is the problem.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, truncate, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { ErrorCode, HoardError, toHoardError } from '../../core/errors.ts';
import { checkKey, type Key } from '../../core/keys.ts';
import { receive } from '../../core/receive.ts';
import { isEmptyBlobKey } from '../empty-blob.ts';
import { drain } from '../memory-store.ts';
import { resolveRange } from '../range.ts';
import type { Body, Entry, PutOptions, PutOutcome, ReadOptions, Store, StoreUsage } from '../store.ts';
import { lockDir, type DirLock } from './dir-lock.ts';
import { EntryIndex, OWN_FILE } from './entry-index.ts';
import { encodeDelete, encodeMove, encodePut, JOURNAL_MAGIC, Op, scanJournal, seal, setLocation, type EncodedRecord } from './journal.ts';
import { blobPath, blobsDir, diskFootprint, journalPath, parseSegmentName, segmentsDir, tmpDir } from './layout.ts';
import { Segment } from './segment.ts';
import { slotOf } from './slot.ts';

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
  /** A segment is sealed once it reaches this size. */
  readonly segmentBytes?: number;
}

export interface DiskStore extends Store {
  readonly dir: string;
  /** What opening found and repaired, for the startup log line. */
  readonly recovery: RecoveryReport;
  /** Bytes held by the in-memory index. */
  readonly indexMemoryBytes: number;
}

export interface RecoveryReport {
  readonly entries: number;
  readonly journalRecords: number;
  readonly tornBytesCut: number;
  readonly danglingEntriesDropped: number;
  readonly journalRewritten: boolean;
  readonly openMs: number;
}

export async function openDiskStore(options: DiskStoreOptions): Promise<DiskStore> {
  const store = new DiskStoreImpl(options);
  await store.open();
  return store;
}

const DEFAULT_SMALL_ENTRY = 1024 * 1024;
const LIVE_TARGET = 0.95; // evict until live data leaves this much room; the rest feeds compaction

type WriterOp =
  | { kind: 'append'; slot: Buffer; record: EncodedRecord; data: Buffer; done: Deferred }
  | { kind: 'publish'; slot: Buffer; record: EncodedRecord; size: number; generation: number; reserved: number; done: Deferred }
  | { kind: 'reserve'; bytes: number; done: Deferred }
  | { kind: 'delete'; slot: Buffer; done: Deferred<boolean> };

interface Move {
  readonly id: number;
  readonly slot: Buffer;
  readonly from: number;
  readonly fromOffset: number;
  readonly to: number;
  readonly toOffset: number;
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
  readonly #segments = new Map<number, Segment>();
  readonly #inflight = new Map<string, Promise<unknown>>();
  readonly #queue: WriterOp[] = [];
  #writer: Promise<void> | undefined;
  #active!: Segment;
  #journal!: FileHandle;
  #journalSize = 0;
  #lock!: DirLock;
  #ownFileBytes = 0; // footprint of entries in files of their own
  #liveBytes = 0; // sizes of all indexed entries
  #reserved = 0; // space promised to large puts still being received
  #evictions = 0;
  #generation = 0;
  #closed = false;
  recovery!: RecoveryReport;

  constructor(options: DiskStoreOptions) {
    this.dir = path.resolve(options.dir);
    this.#maxBytes = options.maxBytes;
    this.#fsync = (options.durability ?? 'fsync') === 'fsync';
    this.#smallEntryBytes = options.smallEntryBytes ?? DEFAULT_SMALL_ENTRY;
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
    // Uploads in progress at a crash are debris: nothing references them.
    await rm(tmpDir(this.dir), { recursive: true, force: true });
    await Promise.all([tmpDir(this.dir), segmentsDir(this.dir), blobsDir(this.dir)].map((d) => mkdir(d, { recursive: true })));

    const jpath = journalPath(this.dir);
    const image = await readFile(jpath).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return Buffer.alloc(0);
      throw err;
    });
    const { records, validLength } = scanJournal(image);
    const tornBytesCut = image.length - validLength;
    const positions = new Map<number, number>(); // entry id -> journal offset of its put
    const scan = scanJournal(image);
    for (let i = 0; i < records.length; i++) {
      const rec = records[i]!;
      const id = this.#index.find(rec.slot);
      if (rec.op === Op.Put) {
        const newId = this.#index.set(rec.slot, rec.segment, rec.offset, rec.size);
        positions.set(newId, scan.positions[i]!);
        if (rec.segment === OWN_FILE) this.#generation = Math.max(this.#generation, rec.offset);
      } else if (rec.op === Op.Move) {
        if (id >= 0) this.#index.relocate(id, rec.segment, rec.offset);
      } else if (id >= 0) {
        this.#index.remove(id);
        positions.delete(id);
      }
    }

    // Open segments; drop index entries whose bytes are not there (defence in depth:
    // with durability=fsync the journal never runs ahead of the data).
    let maxSegment = 0;
    for (const name of await readdir(segmentsDir(this.dir))) {
      const id = parseSegmentName(name);
      if (id === undefined) continue;
      this.#segments.set(id, await Segment.open(this.dir, id, false));
      maxSegment = Math.max(maxSegment, id);
    }
    const dangling: number[] = [];
    for (const id of this.#index.lruOrder()) {
      const segId = this.#index.segment(id);
      const size = this.#index.entrySize(id);
      if (segId === OWN_FILE) {
        this.#ownFileBytes += diskFootprint(size);
      } else {
        const seg = this.#segments.get(segId);
        if (!seg || this.#index.offset(id) + size > seg.size) {
          dangling.push(id);
          continue;
        }
        seg.live += size;
      }
      this.#liveBytes += size;
    }
    for (const id of dangling) {
      this.#index.remove(id);
      positions.delete(id);
    }
    for (const seg of [...this.#segments.values()]) {
      if (seg.live === 0) {
        this.#segments.delete(seg.id);
        await seg.remove();
      }
    }
    this.#generation = Math.max(this.#generation, Date.now()) + 1;

    // Rewrite the journal when it is mostly history, or when it had a torn tail or
    // dangling entries; otherwise cut the torn tail and append.
    const rewrite = tornBytesCut > 0 || dangling.length > 0 || records.length > 2 * this.#index.size + 10_000 || image.length === 0;
    if (rewrite) {
      await this.#rewriteJournal(image, positions);
    } else if (validLength < image.length) {
      await truncate(jpath, validLength);
    }
    this.#journal = await open(jpath, 'a');
    this.#journalSize = (await this.#journal.stat()).size;
    this.#active = await Segment.open(this.dir, maxSegment + 1, true);
    this.#segments.set(this.#active.id, this.#active);

    this.recovery = {
      entries: this.#index.size,
      journalRecords: records.length,
      tornBytesCut,
      danglingEntriesDropped: dangling.length,
      journalRewritten: rewrite,
      openMs: Math.round(performance.now() - started),
    };
  }

  /** Writes a fresh journal holding one put per live entry, in LRU order, then swaps it in. */
  async #rewriteJournal(image: Buffer, positions: Map<number, number>): Promise<void> {
    const parts: Buffer[] = [JOURNAL_MAGIC];
    for (const id of this.#index.lruOrder()) {
      const pos = positions.get(id)!;
      const len = image.readUInt32LE(pos);
      const frame = Buffer.from(image.subarray(pos, pos + 8 + len));
      const rec = { frame };
      setLocation(rec, this.#index.segment(id), this.#index.offset(id)); // moves folded in
      parts.push(seal(rec));
    }
    const jpath = journalPath(this.dir);
    const next = `${jpath}.new`;
    const fh = await open(next, 'w');
    try {
      await fh.writev(parts);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(next, jpath);
    await this.#syncDir(this.dir);
  }

  // ---- reads -----------------------------------------------------------------------------

  async has(keys: readonly Key[]): Promise<boolean[]> {
    return keys.map((k) => {
      if (isEmptyBlobKey(k)) return true;
      const id = this.#index.find(slotOf(k));
      if (id < 0) return false;
      this.#index.touch(id);
      return true;
    });
  }

  async stat(key: Key): Promise<number | undefined> {
    if (isEmptyBlobKey(key)) return 0;
    const id = this.#index.find(slotOf(key));
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
    if (segId !== OWN_FILE) {
      const data = await this.#segments.get(segId)!.read(this.#index.offset(id) + start, end - start);
      return { size, stream: Readable.from([data], { objectMode: false }) };
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
    const entry = await this.get(key, options);
    if (!entry) return undefined;
    const chunks: Buffer[] = [];
    for await (const c of entry.stream) chunks.push(c as Buffer);
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  }

  // ---- writes ----------------------------------------------------------------------------

  async put(key: Key, body: Body, options: PutOptions = {}): Promise<PutOutcome> {
    this.#checkOpen();
    checkKey(key);
    if (key.keyspace === 'cas' && options.size === undefined) {
      throw new HoardError(ErrorCode.InvalidArgument, 'a CAS put needs the declared size');
    }
    if (options.size !== undefined && this.#maxBytes > 0 && options.size > this.#maxBytes) {
      throw new HoardError(ErrorCode.InsufficientStorage, `entry of ${options.size} bytes exceeds the store's bound of ${this.#maxBytes}`);
    }
    const slot = slotOf(key);
    if (key.keyspace !== 'cas') return this.#write(key, slot, body, options);

    // CAS: single flight per blob. Later puts wait for the first, then drain their body.
    const flightKey = slot.toString('latin1');
    for (;;) {
      if (isEmptyBlobKey(key) || this.#index.find(slot) >= 0) {
        await drain(body);
        return 'exists';
      }
      const pending = this.#inflight.get(flightKey);
      if (!pending) break;
      await pending.catch(() => undefined);
    }
    const work = this.#write(key, slot, body, options);
    this.#inflight.set(flightKey, work);
    try {
      return await work;
    } finally {
      this.#inflight.delete(flightKey);
    }
  }

  async #write(key: Key, slot: Buffer, body: Body, options: PutOptions): Promise<PutOutcome> {
    const small = options.size !== undefined && options.size <= this.#smallEntryBytes;
    if (small) {
      const chunks: Uint8Array[] = [];
      let crc = 0;
      const { size } = await receive(body, this.#receiveOptions(key, options), (c) => {
        chunks.push(c);
        crc = crc32(c, crc);
      });
      const data = chunks.length === 1 ? Buffer.from(chunks[0]!.buffer, chunks[0]!.byteOffset, size) : Buffer.concat(chunks, size);
      const record = encodePut(slot, key, size, crc);
      await this.#enqueue<void>((done) => ({ kind: 'append', slot, record, data, done }));
      return 'created';
    }
    return this.#writeOwnFile(key, slot, body, options);
  }

  async #writeOwnFile(key: Key, slot: Buffer, body: Body, options: PutOptions): Promise<PutOutcome> {
    const reserved = options.size ?? 0;
    if (reserved > 0) await this.#enqueue<void>((done) => ({ kind: 'reserve', bytes: diskFootprint(reserved), done }));
    const tmp = path.join(tmpDir(this.dir), randomBytes(12).toString('hex'));
    let fh: FileHandle | undefined;
    try {
      fh = await open(tmp, 'wx');
      const handle = fh;
      let crc = 0;
      let position = 0;
      const { size } = await receive(body, this.#receiveOptions(key, options), async (c) => {
        crc = crc32(c, crc);
        let done = 0;
        while (done < c.byteLength) {
          const { bytesWritten } = await handle.write(c, done, c.byteLength - done, position);
          done += bytesWritten;
          position += bytesWritten;
        }
      });
      if (this.#fsync) await fh.sync();
      await fh.close();
      fh = undefined;
      const record = encodePut(slot, key, size, crc);
      const generation = this.#generation++;
      const final = blobPath(this.dir, slot, generation);
      await mkdir(path.dirname(final), { recursive: true });
      await rename(tmp, final);
      if (this.#fsync) await this.#syncDir(path.dirname(final));
      setLocation(record, OWN_FILE, generation);
      await this.#enqueue<void>((done) => ({ kind: 'publish', slot, record, size, generation, reserved: diskFootprint(reserved), done })).catch(
        async (err) => {
          await unlink(final).catch(() => undefined);
          throw err;
        },
      );
      return 'created';
    } catch (err) {
      if (fh) await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      if (reserved > 0) this.#reserved -= diskFootprint(reserved);
      throw toHoardError(err);
    }
  }

  #receiveOptions(key: Key, options: PutOptions) {
    return {
      size: options.size,
      hash: key.keyspace === 'cas' ? key.id : undefined,
      signal: options.signal,
      maxBytes: this.#maxBytes > 0 ? this.#maxBytes : undefined,
    };
  }

  async delete(key: Key): Promise<boolean> {
    this.#checkOpen();
    const slot = slotOf(key);
    if (this.#index.find(slot) < 0) return false;
    return this.#enqueue<boolean>((done) => ({ kind: 'delete', slot, done }));
  }

  usage(): StoreUsage {
    return { bytes: this.#diskBytes(), maxBytes: this.#maxBytes, entries: this.#index.size, evictions: this.#evictions };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.allSettled(this.#inflight.values());
    this.#closed = true;
    while (this.#writer) await this.#writer;
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
      this.#writer ??= this.#runWriter().finally(() => {
        this.#writer = undefined;
      });
    });
  }

  async #runWriter(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#queue.length);
      try {
        await this.#commit(batch);
      } catch (err) {
        for (const seg of this.#segments.values()) seg.retiring = false;
        const e = toHoardError(err);
        for (const op of batch) op.done.reject(e);
      }
    }
  }

  /** One group commit: make room, append data, sync, journal, sync, publish, clean up. */
  async #commit(batch: WriterOp[]): Promise<void> {
    const frames: Buffer[] = [];
    const afterSync: (() => Promise<void>)[] = [];
    const moves: Move[] = [];
    const accepted: WriterOp[] = [];
    const appends: { data: Buffer; record: EncodedRecord }[] = [];

    for (const op of batch) {
      const need = op.kind === 'append' ? op.data.length : op.kind === 'reserve' ? op.bytes : 0;
      if (need > 0 && !(await this.#makeRoom(need, frames, afterSync, appends, moves))) {
        op.done.reject(new HoardError(ErrorCode.InsufficientStorage, `no room for ${need} bytes even after eviction (bound ${this.#maxBytes})`));
        continue;
      }
      if (op.kind === 'reserve') {
        this.#reserved += op.bytes;
        op.done.resolve();
        continue;
      }
      if (op.kind === 'append') appends.push({ data: op.data, record: op.record });
      accepted.push(op);
    }

    // 1. Data first, durable before any record points at it.
    const touched = await this.#appendToSegments(appends);
    if (this.#fsync) await Promise.all([...touched].map((s) => s.sync()));

    // 2. Then the journal: evictions and moves, puts, deletes, in that order.
    for (const op of accepted) {
      if (op.kind === 'append' || op.kind === 'publish') frames.push(seal(op.record));
      else if (op.kind === 'delete') frames.push(seal(encodeDelete(op.slot)));
    }
    if (frames.length > 0) {
      const bytes = Buffer.concat(frames);
      await this.#journal.write(bytes);
      this.#journalSize += bytes.length;
      if (this.#fsync) await this.#journal.datasync();
    }

    // 3. Publish, in journal order, so memory matches what a replay would build.
    for (const m of moves) {
      const id = this.#index.find(m.slot);
      if (id >= 0 && this.#index.segment(id) === m.from && this.#index.offset(id) === m.fromOffset) {
        this.#index.relocate(id, m.to, m.toOffset);
        this.#segments.get(m.from)!.live -= this.#index.entrySize(id);
        this.#segments.get(m.to)!.live += this.#index.entrySize(id);
      }
    }
    for (const seg of [...this.#segments.values()]) {
      if (!seg.retiring) continue;
      this.#segments.delete(seg.id);
      afterSync.push(() => seg.remove());
    }
    for (const op of accepted) {
      if (op.kind === 'append') {
        this.#forget(op.slot, afterSync);
        const seg = this.#segmentIdOf(op.record);
        this.#index.set(op.slot, seg, op.record.frame.readDoubleLE(8 + 37), op.data.length);
        this.#segments.get(seg)!.live += op.data.length;
        this.#liveBytes += op.data.length;
        op.done.resolve();
      } else if (op.kind === 'publish') {
        this.#forget(op.slot, afterSync);
        this.#index.set(op.slot, OWN_FILE, op.generation, op.size);
        this.#reserved -= op.reserved;
        this.#ownFileBytes += diskFootprint(op.size);
        this.#liveBytes += op.size;
        op.done.resolve();
      } else if (op.kind === 'delete') {
        op.done.resolve(this.#forget(op.slot, afterSync));
      }
    }
    // 4. Only now may bytes the journal no longer references go.
    for (const clean of afterSync) await clean();
  }

  #segmentIdOf(record: EncodedRecord): number {
    return record.frame.readUInt32LE(8 + 33);
  }

  /** Appends each entry to the active segment, rolling to a new segment when full. */
  async #appendToSegments(appends: { data: Buffer; record: EncodedRecord }[]): Promise<Set<Segment>> {
    const touched = new Set<Segment>();
    let i = 0;
    while (i < appends.length) {
      if (this.#active.size > 0 && this.#active.size + appends[i]!.data.length > this.#segmentBytes) {
        const next = await Segment.open(this.dir, this.#active.id + 1, true);
        this.#segments.set(next.id, next);
        this.#active = next;
      }
      const seg = this.#active;
      const start = seg.size;
      const buffers: Buffer[] = [];
      while (i < appends.length && (buffers.length === 0 || seg.size + appends[i]!.data.length <= this.#segmentBytes)) {
        const a = appends[i++]!;
        setLocation(a.record, seg.id, seg.size);
        buffers.push(a.data);
        seg.size += a.data.length;
      }
      await seg.append(buffers, start);
      touched.add(seg);
    }
    return touched;
  }

  /** Drops whatever the index holds for `slot`; its bytes go after the journal is synced. */
  #forget(slot: Buffer, afterSync: (() => Promise<void>)[]): boolean {
    const id = this.#index.find(slot);
    if (id < 0) return false;
    const size = this.#index.entrySize(id);
    const segId = this.#index.segment(id);
    if (segId === OWN_FILE) {
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
  async #makeRoom(
    need: number,
    frames: Buffer[],
    afterSync: (() => Promise<void>)[],
    appends: { data: Buffer; record: EncodedRecord }[],
    moves: Move[],
  ): Promise<boolean> {
    if (this.#maxBytes === 0) return true;
    if (need > this.#maxBytes) return false;
    let pending = 0;
    for (const a of appends) pending += a.data.length;
    const pendingAppends = () => pending;
    const retiring = new Set<number>();
    let guard = 0;
    while (this.#diskBytes() + pendingAppends() + need > this.#maxBytes) {
      if (++guard > 1_000_000) return false;
      const liveOver = this.#liveBytes + this.#reserved + pendingAppends() + need > this.#maxBytes * LIVE_TARGET;
      const victim = liveOver ? undefined : this.#compactionVictim(retiring);
      if (victim) {
        retiring.add(victim.id);
        await this.#compact(victim, frames, moves);
        continue;
      }
      const id = this.#index.lruTail;
      if (id < 0) {
        const fallback = this.#compactionVictim(retiring);
        if (!fallback) return false;
        retiring.add(fallback.id);
        await this.#compact(fallback, frames, moves);
        continue;
      }
      const slot = this.#index.slot(id);
      frames.push(seal(encodeDelete(slot)));
      this.#forget(slot, afterSync);
      this.#evictions++;
      // A segment emptied by eviction is removed after the sync; count it as freed now.
    }
    return true;
  }

  #compactionVictim(exclude: Set<number>): Segment | undefined {
    let best: Segment | undefined;
    for (const s of this.#segments.values()) {
      if (s === this.#active || s.retiring || exclude.has(s.id) || s.dead === 0) continue;
      if (!best || s.dead > best.dead) best = s;
    }
    return best;
  }

  /** Copies a segment's live entries forward (as appends with move records) and retires it. */
  async #compact(
    seg: Segment,
    frames: Buffer[],
    moves: Move[],
  ): Promise<void> {
    const live: number[] = [];
    for (const id of this.#index.lruOrder()) if (this.#index.segment(id) === seg.id) live.push(id);
    const copies: { data: Buffer; record: EncodedRecord; id: number; slot: Buffer; offset: number }[] = [];
    for (const id of live) {
      const offset = this.#index.offset(id);
      copies.push({ data: await seg.read(offset, this.#index.entrySize(id)), record: encodeMove(this.#index.slot(id)), id, slot: this.#index.slot(id), offset });
    }
    // Write the copies now so the moves' frames can carry their final location.
    const placed = await this.#appendToSegments(copies);
    if (this.#fsync) await Promise.all([...placed].map((s) => s.sync()));
    for (const c of copies) {
      frames.push(seal(c.record));
      moves.push({ id: c.id, slot: c.slot, from: seg.id, fromOffset: c.offset, to: this.#segmentIdOf(c.record), toOffset: c.record.frame.readDoubleLE(8 + 37) });
    }
    // Removed once the moves are published (see #commit); counted as freed from now on.
    seg.retiring = true;
  }

  async #syncDir(dir: string): Promise<void> {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new HoardError(ErrorCode.Unavailable, 'the store is closed');
  }
}
