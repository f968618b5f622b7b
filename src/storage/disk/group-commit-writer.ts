// The disk store's single writer (rule 2: the only code that appends to the journal).
// Verified puts, reservations for large puts and deletes are queued here; the writer takes
// what is queued as one batch (group commit, so one fdatasync covers many small puts),
// makes room (space-manager.ts), places small entries in the active segment, and has the
// commit runner (the commit worker, commit-syncer.ts) write them, make them durable
// (fdatasync), append the index records to the journal and make those durable; only then
// does it publish the entries in the in-memory index. So nothing is visible before it is
// whole, verified and durable (rule 1), and an existence check never reports an entry whose
// bytes could be missing after a crash.
//
// A full disk: a commit that fails for lack of space (ENOSPC, EDQUOT) before its journal
// write is taken back, its placements cut off the segment files, and the bound lowered to
// what the file system holds (file-system-bound.ts); then the evictions that make room are
// committed on their own, so their bytes are gone before the batch's data is written again.
// Only when no room can be made do its ops fail, with InsufficientStorage.
import { ErrorCode, HoardError, toHoardError } from '../../core/errors.ts';
import {
  newBatch,
  type Batch,
  type Carried,
  type Parts,
  type Place,
  type Placer,
  type SegmentWrite,
} from './commit-batch.ts';
import { isNoSpace, type FileSystemBound } from './file-system-bound.ts';
import { CommitFailed, type CommitRequest, type CommitRunner } from './commit-syncer.ts';
import { NO_BYTES, OWN_FILE } from './entry-index.ts';
import { seal, setLocation, type EncodedRecord } from './journal.ts';
import type { JournalRewriter } from './journal-rewrite.ts';
import { diskFootprint, segmentsDir } from './layout.ts';
import type { Segment } from './segment.ts';
import type { SpaceManager } from './space-manager.ts';
import type { StoreState } from './store-state.ts';
import { syncDir } from './sync-dir.ts';

// Segment data one commit writes at most: bounds the commit worker's arena and keeps one
// commit from holding up the puts queued behind it.
const BATCH_DATA_BYTES = 32 * 1024 * 1024;
// Commits of one batch after the file system refused it for lack of space, each after
// making room: more means the room made keeps being taken by something else.
const NO_SPACE_RETRIES = 3;

export interface Deferred<T = void> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

export type WriterOp =
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
  // Makes room for `bytes` more (after lowering the bound to the file system's when
  // `lower`; `held`: bytes the asker already has on disk that the store does not count, a
  // temp file's so far) and keeps nothing; `done` gets whether it could, once the bytes
  // are freed.
  | { kind: 'room'; bytes: number; held: number; lower: boolean; made?: boolean; done: Deferred<boolean> }
  | { kind: 'delete'; slot: Buffer; record: EncodedRecord; done: Deferred<boolean> };

export interface GroupCommitWriterOptions {
  readonly runner: CommitRunner;
  readonly openSegment: typeof Segment.open;
}

export class GroupCommitWriter implements Placer {
  readonly #s: StoreState;
  readonly #space: SpaceManager;
  readonly #rewriter: JournalRewriter;
  readonly #bound: FileSystemBound;
  readonly #runner: CommitRunner;
  readonly #openSegment: typeof Segment.open;
  readonly #queue: WriterOp[] = [];
  #running: Promise<void> | undefined;
  /** Set when a failed journal append could not be cut back off: no write is safe then. */
  #journalBroken: HoardError | undefined;
  /**
   * What a failed commit's evictions left undone: the index forgot those entries when they
   * were chosen, so the next commit journals their records (before its own) and runs their
   * cleanups; without it they came back at the next open, and their bytes were never freed.
   */
  #carried: Carried = { frames: [], afterSync: [] };

  constructor(
    state: StoreState,
    parts: { space: SpaceManager; rewriter: JournalRewriter; bound: FileSystemBound },
    options: GroupCommitWriterOptions,
  ) {
    this.#s = state;
    this.#space = parts.space;
    this.#rewriter = parts.rewriter;
    this.#bound = parts.bound;
    this.#runner = options.runner;
    this.#openSegment = options.openSegment;
  }

  /** Queues an op; the promise settles when its commit has (or the op was refused). */
  enqueue<T>(make: (done: Deferred<T>) => WriterOp): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(make({ resolve, reject }));
      this.#start();
    });
  }

  /**
   * Waits until nothing is queued or committing, then journals the evictions a failed
   * commit left unjournaled (while the journal can still take them) and stops the runner.
   */
  async close(): Promise<void> {
    while (this.#running) await this.#running;
    if (this.#carried.frames.length > 0 || this.#carried.afterSync.length > 0)
      await this.#commit([], []).catch(() => undefined);
    await this.#runner.close();
  }

  #start(): void {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
      // An op queued after the writer's last look at the queue but before this callback
      // (a put resolved by the last commit can enqueue its successor in between) would
      // otherwise wait forever.
      if (this.#queue.length > 0) this.#start();
    });
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) await this.#commitOrRefuse(this.#queue.splice(0, this.#batchLength()));
  }

  /** Commits `batch`, making room and trying again when the file system is full; else fails its ops. */
  async #commitOrRefuse(batch: WriterOp[]): Promise<void> {
    let ops = batch;
    for (let attempt = 1; ; attempt++) {
      const accepted: WriterOp[] = [];
      try {
        await this.#commit(ops, accepted);
        return;
      } catch (err) {
        // `accepted`: the ops not refused or answered before the failure.
        if (isNoSpace(err) && accepted.length > 0 && attempt <= NO_SPACE_RETRIES && (await this.#roomFor(accepted))) {
          ops = accepted;
          continue;
        }
        const e = isNoSpace(err)
          ? new HoardError(
              ErrorCode.InsufficientStorage,
              `the file system is full and no room could be made (${(err as Error).message})`,
              { cause: err },
            )
          : toHoardError(err);
        for (const op of ops) op.done.reject(e);
        return;
      }
    }
  }

  /**
   * After `ops` failed for lack of space: lowers the bound to what the file system holds and
   * commits, on their own, the evictions that make room for `ops` under it, so their bytes
   * are freed before `ops` write again. False when no room could be made.
   */
  async #roomFor(ops: readonly WriterOp[]): Promise<boolean> {
    let bytes = 0;
    for (const op of ops) bytes += needOf(op);
    let made = false;
    const room: WriterOp = {
      kind: 'room',
      bytes,
      held: 0,
      lower: true,
      done: { resolve: (ok) => (made = ok), reject: () => undefined },
    };
    await this.#commit([room], []).catch(() => undefined);
    return made;
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
  async #commit(batch: WriterOp[], accepted: WriterOp[]): Promise<void> {
    const b = newBatch(this.#carried);
    this.#carried = { frames: [], afterSync: [] };
    try {
      await this.#commitBatch(batch, b, accepted);
    } catch (err) {
      if (b.journaled) {
        accepted.length = 0; // answered already: never committed again
        throw err;
      }
      this.#takeBack(b);
      if (isNoSpace(err)) await this.#cutBack(b);
      throw err;
    }
  }

  /**
   * Cuts the bytes a commit that failed for lack of space placed off the end of their
   * segments (nothing names them, and only this commit placed past where they start), so
   * their space is free again and not counted as dead space.
   */
  async #cutBack(b: Batch): Promise<void> {
    const from = new Map<Segment, number>();
    for (const w of b.writes) from.set(w.seg, Math.min(from.get(w.seg) ?? w.offset, w.offset));
    for (const [seg, offset] of from) {
      if (this.#s.segments.get(seg.id) !== seg) continue; // removed with the evictions
      await seg.truncate(offset).catch(() => undefined);
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
    const s = this.#s;
    for (const w of b.writes) w.seg.live -= w.data.size;
    const afterSync = [...b.afterSync];
    for (const seg of [...s.segments.values()]) {
      seg.retiring = false;
      // A compaction victim whose live entries this commit evicted holds nothing now: it
      // goes with the evictions' delete records, not when compaction next picks it.
      s.retireIfEmpty(seg.id, afterSync);
    }
    this.#carried = { frames: b.evictions, afterSync };
  }

  async #commitBatch(batch: WriterOp[], b: Batch, accepted: WriterOp[]): Promise<void> {
    const s = this.#s;
    if (this.#bound.due()) await this.#bound.remeasure();
    let lowered = false;
    for (const op of batch) {
      if (op.kind === 'room') {
        if (op.lower && !lowered) {
          lowered = true;
          let held = 0;
          for (const r of batch) if (r.kind === 'room' && r.lower) held += r.held;
          await this.#bound.noSpace(held);
        }
        // Answered once the commit has freed the bytes (below).
        op.made = await this.#space.makeRoom(op.bytes, b, this);
        accepted.push(op);
        continue;
      }
      const need = needOf(op);
      if (need > 0 && !(await this.#space.makeRoom(need, b, this))) {
        op.done.reject(
          new HoardError(
            ErrorCode.InsufficientStorage,
            `no room for ${need} bytes even after eviction (bound ${s.effectiveMaxBytes}` +
              (s.effectiveMaxBytes < s.maxBytes ? ` of the configured ${s.maxBytes}: the file system holds less` : '') +
              ')',
          ),
        );
        continue;
      }
      if (op.kind === 'reserve') {
        s.reserved += op.bytes;
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
      op.place = await this.placeInBatch(op.data, op.record, b);
    }

    // 1. Data first (puts' and compaction's copies), durable before any record points at it.
    // 2. Then the journal: evictions and moves, then puts, then deletes. Puts after the
    //    evictions, so an eviction of a value a put in this batch replaces cannot win on replay.
    for (const op of accepted) if (op.kind !== 'reserve' && op.kind !== 'room') b.putFrames.push(seal(op.record));
    const frames = [...b.frames, ...b.putFrames];
    await this.#makeDurable(b.writes, frames);
    b.journaled = true;
    s.journalRecords += frames.length;

    // 3. Publish, in journal order, so memory matches what a replay would build.
    const index = s.index;
    for (const m of b.moves) {
      const id = index.find(m.slot);
      if (id >= 0 && index.segment(id) === m.from && index.offset(id) === m.fromOffset) {
        index.relocate(id, m.to, m.toOffset);
      } else {
        // Evicted or replaced meanwhile: the copy is dead space.
        s.segments.get(m.to)!.live -= m.size;
        s.retireIfEmpty(m.to, b.afterSync);
      }
    }
    for (const seg of [...s.segments.values()]) {
      if (!seg.retiring) continue;
      s.segments.delete(seg.id);
      b.afterSync.push(() => seg.remove());
    }
    for (const op of accepted) {
      if (op.kind === 'append') {
        s.forget(op.slot, b.afterSync);
        index.set(op.slot, op.place?.seg.id ?? NO_BYTES, op.place?.offset ?? 0, op.data.size);
        s.cache.set(op.slot.toString('latin1'), op.data.buffers);
        s.liveBytes += op.data.size;
        op.done.resolve();
      } else if (op.kind === 'publish') {
        s.forget(op.slot, b.afterSync);
        index.set(op.slot, OWN_FILE, op.generation, op.size);
        s.reserved -= op.reserved;
        s.ownFileBytes += diskFootprint(op.size);
        s.liveBytes += op.size;
        op.done.resolve();
      } else if (op.kind === 'delete') {
        op.done.resolve(s.forget(op.slot, b.afterSync));
      }
    }
    // 4. Only now may bytes the journal no longer references go.
    for (const clean of b.afterSync) await clean();
    if (lowered) await this.#bound.restoreSpare();
    for (const op of accepted) if (op.kind === 'room') op.done.resolve(op.made ?? false);
    if (this.#rewriter.due()) await this.#rewriter.rewrite();
  }

  /**
   * Writes the batch's segment data and syncs it, then appends whole journal records (rule 2)
   * and syncs them, all in one job on the commit runner (syncs only with durability
   * 'fsync'). A journal write or sync that fails is cut back off: records appended after
   * torn bytes would be lost at the next open, which cuts the journal there, and records
   * whose sync failed must not name entries whose puts were refused. If even the cut fails,
   * the store takes no more writes.
   */
  async #makeDurable(writes: readonly SegmentWrite[], frames: readonly Buffer[]): Promise<void> {
    if (this.#journalBroken) throw this.#journalBroken;
    if (writes.length === 0 && frames.length === 0) return;
    const s = this.#s;
    const added = frames.reduce((n, f) => n + f.length, 0);
    const request: CommitRequest = {
      writes: writes.map((w) => ({ fd: w.seg.fd, position: w.offset, buffers: w.data.buffers })),
      syncFds: s.fsync ? [...new Set(writes.map((w) => w.seg.fd))] : [],
      journalFd: s.journal.fd,
      journalPosition: s.journalSize,
      records: frames,
      syncJournal: s.fsync,
    };
    try {
      await this.#runner.run(request);
    } catch (err) {
      if (!(err instanceof CommitFailed && err.failedAt === 'data')) {
        try {
          await s.journal.truncate(s.journalSize);
        } catch {
          this.#journalBroken = new HoardError(
            ErrorCode.Unavailable,
            `the journal could not be repaired after a failed write (${(err as Error).message}); restart the server`,
          );
        }
      }
      throw err;
    }
    s.journalSize += added;
  }

  /**
   * Places `data` for this commit: counted live at once (so an eviction in the same batch
   * cannot retire its segment; #takeBack undoes it), queued for the commit runner, and named
   * by `record`.
   */
  async placeInBatch(data: Parts, record: EncodedRecord, b: Batch): Promise<Place> {
    const place = await this.#place(data.size);
    place.seg.live += data.size;
    setLocation(record, place.seg.id, place.offset);
    b.writes.push({ ...place, data });
    return place;
  }

  /** The next `size` bytes of the active segment, rolled first if full. */
  async #place(size: number): Promise<Place> {
    const s = this.#s;
    if (s.active.size > 0 && s.active.size + size > s.segmentBytes) {
      const next = await this.#openSegment(s.dir, s.active.id + 1, true);
      // The new name must be durable before a journal record points into the file.
      if (s.fsync) await syncDir(segmentsDir(s.dir));
      s.segments.set(next.id, next);
      s.active = next;
    }
    const seg = s.active;
    const offset = seg.size;
    seg.size += size;
    return { seg, offset };
  }
}

/**
 * The room an op needs: its data and its own journal record (a delete's too: a full store
 * that took delete records for free grew past its bound). A file of its own takes what it
 * was not reserved (all of it when no size was declared).
 */
function needOf(op: WriterOp): number {
  switch (op.kind) {
    case 'append':
      return op.record.frame.length + op.data.size;
    case 'publish':
      return op.record.frame.length + diskFootprint(op.size) - op.reserved;
    case 'delete':
      return op.record.frame.length;
    case 'reserve':
    case 'room':
      return op.bytes;
  }
}
