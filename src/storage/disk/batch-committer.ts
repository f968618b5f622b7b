// One group commit of the disk store's single writer (group-commit-writer.ts): makes room
// for the batch's ops (space-manager.ts), places small entries in the active segment, and
// has the commit runner (the commit worker, commit-syncer.ts) write them, make them durable
// (fdatasync), append the index records to the journal (rule 2: the only code that appends)
// and make those durable; only then does it publish the entries in the in-memory index, and
// last it removes the bytes the journal no longer references. So nothing is visible before
// it is whole, verified and durable (rule 1), and an existence check never reports an entry
// whose bytes could be missing after a crash. A commit that fails before its journal write
// is taken back (`#takeBack`); when it failed for lack of space, the bytes it placed are cut
// off the segment files too (`#cutBack`).
import { ErrorCode, HoardError } from '../../core/errors.ts';
import {
  needOf,
  newBatch,
  type Batch,
  type Carried,
  type Parts,
  type Place,
  type Placer,
  type SegmentWrite,
  type WriterOp,
} from './commit-batch.ts';
import { CommitFailed, type CommitRequest, type CommitRunner } from './commit-syncer.ts';
import { NO_BYTES, OWN_FILE } from './entry-index.ts';
import { isNoSpace, type FileSystemBound } from './file-system-bound.ts';
import { seal, setLocation, type EncodedRecord } from './journal.ts';
import type { JournalRewriter } from './journal-rewrite.ts';
import { diskFootprint, segmentsDir } from './layout.ts';
import type { Segment } from './segment.ts';
import type { SpaceManager } from './space-manager.ts';
import type { StoreState } from './store-state.ts';
import { syncDir } from './sync-dir.ts';

const NONE_DEFERRED: readonly WriterOp[] = [];

export interface BatchCommitterOptions {
  readonly runner: CommitRunner;
  readonly openSegment: typeof Segment.open;
}

export class BatchCommitter implements Placer {
  readonly #s: StoreState;
  readonly #space: SpaceManager;
  readonly #rewriter: JournalRewriter;
  readonly #bound: FileSystemBound;
  readonly #runner: CommitRunner;
  readonly #openSegment: typeof Segment.open;
  /** Set when a failed journal append could not be cut back off: no write is safe then. */
  #journalBroken: HoardError | undefined;
  /**
   * What a failed commit's evictions left undone: the index forgot those entries when they
   * were chosen, so the next commit journals their records (before its own) and runs their
   * cleanups; without it they came back at the next open, and their bytes were never freed.
   */
  #carried: Carried = { frames: [], afterSync: [] };
  /** Puts the last commit left for the next one (their namespace's quota, space-manager.ts). */
  #deferred: WriterOp[] = [];

  constructor(
    state: StoreState,
    parts: { space: SpaceManager; rewriter: JournalRewriter; bound: FileSystemBound },
    options: BatchCommitterOptions,
  ) {
    this.#s = state;
    this.#space = parts.space;
    this.#rewriter = parts.rewriter;
    this.#bound = parts.bound;
    this.#runner = options.runner;
    this.#openSegment = options.openSegment;
  }

  /** Whether a failed commit left evictions for the next one to journal. */
  get hasCarried(): boolean {
    return this.#carried.frames.length > 0 || this.#carried.afterSync.length > 0;
  }

  /**
   * The ops the last commit neither committed nor refused, to queue again in front of the
   * rest: puts whose namespace quota was held by earlier puts of the same batch, which the
   * next commit can evict. The first of them always fits then, so each commit makes progress.
   */
  takeDeferred(): readonly WriterOp[] {
    if (this.#deferred.length === 0) return NONE_DEFERRED;
    const d = this.#deferred;
    this.#deferred = [];
    return d;
  }

  /** Stops the commit runner (the worker). */
  close(): Promise<void> {
    return this.#runner.close();
  }

  /**
   * One group commit: make room, append data, sync, journal, sync, publish, clean up. A
   * commit that fails before its journal write leaves its evictions to the next one.
   */
  async commit(batch: WriterOp[], accepted: WriterOp[]): Promise<void> {
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
      let quotaCounted = 0;
      if (s.hasQuotas && (op.kind === 'append' || op.kind === 'publish')) {
        let fits: boolean;
        const size = op.kind === 'append' ? op.data.size : op.size;
        try {
          fits = this.#space.fitNamespace(op.namespace, op.slot, size, b);
        } catch (err) {
          op.done.reject(err);
          continue;
        }
        if (!fits) {
          this.#deferred.push(op);
          continue;
        }
        quotaCounted = size;
      }
      const need = needOf(op);
      if (need > 0 && !(await this.#space.makeRoom(need, b, this))) {
        // Refused after all: its bytes no longer count against its namespace in this batch.
        if (quotaCounted > 0 && 'namespace' in op)
          b.namespacePending!.set(op.namespace, b.namespacePending!.get(op.namespace)! - quotaCounted);
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
      // The namespace's id is taken after `forget`, which frees it if that was its last entry.
      if (op.kind === 'append') {
        s.forget(op.slot, b.afterSync);
        const ns = index.namespaces.idOf(op.namespace);
        index.set(op.slot, op.place?.seg.id ?? NO_BYTES, op.place?.offset ?? 0, op.data.size, ns);
        s.cache.set(op.slot.toString('latin1'), op.data.buffers);
        s.liveBytes += op.data.size;
        op.done.resolve();
      } else if (op.kind === 'publish') {
        s.forget(op.slot, b.afterSync);
        index.set(op.slot, OWN_FILE, op.generation, op.size, index.namespaces.idOf(op.namespace));
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
