// What a disk store holds, shared by its parts: the in-memory index, the open segments and
// journal, the read cache, and the byte counts the bound is checked against. The parts that
// change it (the batch committer, space management, the journal rewrite) all run on the
// store's single writer; readers and the put path only look things up, except that a put
// of a file of its own adds and releases its reservation.
import { unlink, type FileHandle } from 'node:fs/promises';
import { EntryIndex, NO_BYTES, OWN_FILE } from './entry-index.ts';
import { blobPath, diskFootprint } from './layout.ts';
import { NamespaceTable, type QuotaRule } from './namespace-table.ts';
import type { ReadCache } from './read-cache.ts';
import type { Recovered } from './recovery.ts';
import type { Segment } from './segment.ts';

/** Work that may run only once the journal no longer references the bytes it removes. */
export type Cleanups = (() => Promise<void>)[];

export class StoreState {
  readonly dir: string;
  readonly fsync: boolean;
  /** The configured bound on bytes on disk; 0 = unbounded. */
  readonly maxBytes: number;
  /** The bound the store works to: `maxBytes`, or less when the file system holds less
   *  (file-system-bound.ts); 0 = unbounded. */
  effectiveMaxBytes: number;
  /** The active segment is sealed once it reaches this size. */
  segmentBytes: number;
  readonly #fixedSegmentBytes: number | undefined;
  readonly #smallEntryBytes: number;
  readonly index: EntryIndex;
  /** Whether any namespace has a quota: puts then check theirs (space-manager.ts). */
  readonly hasQuotas: boolean;
  readonly cache: ReadCache;
  segments = new Map<number, Segment>();
  active!: Segment;
  journal!: FileHandle;
  journalSize = 0;
  journalRecords = 0;
  ownFileBytes = 0; // footprint of entries in files of their own
  liveBytes = 0; // sizes of all indexed entries
  reserved = 0; // space promised to large puts still being received
  evictions = 0;
  generation = 0;

  /** `segmentBytes`: a fixed segment size; by default one sixteenth of the bound, within 1-64 MiB. */
  constructor(
    dir: string,
    options: {
      maxBytes: number;
      fsync: boolean;
      smallEntryBytes: number;
      segmentBytes?: number;
      quotas?: readonly QuotaRule[];
    },
    cache: ReadCache,
  ) {
    this.dir = dir;
    this.index = new EntryIndex(1024, { namespaces: new NamespaceTable(options.quotas) });
    this.hasQuotas = this.index.namespaces.hasQuotas;
    this.maxBytes = options.maxBytes;
    this.effectiveMaxBytes = options.maxBytes;
    this.fsync = options.fsync;
    this.#smallEntryBytes = options.smallEntryBytes;
    this.#fixedSegmentBytes = options.segmentBytes;
    this.cache = cache;
    this.segmentBytes = this.#fittedSegmentBytes();
  }

  /** Sets the bound the store works to; segments are then fitted to it (unless fixed). */
  setEffectiveMaxBytes(bytes: number): void {
    this.effectiveMaxBytes = bytes;
    this.segmentBytes = this.#fittedSegmentBytes();
  }

  /** Segments of a sixteenth of the bound, so that eviction can empty whole old ones. */
  #fittedSegmentBytes(): number {
    if (this.#fixedSegmentBytes !== undefined) return this.#fixedSegmentBytes;
    const bound = this.effectiveMaxBytes;
    const fitted = bound > 0 ? Math.floor(bound / 16) : 64 * 1024 * 1024;
    return Math.max(this.#smallEntryBytes, Math.min(64 * 1024 * 1024, fitted));
  }

  /** Takes over what opening found (recovery.ts). */
  adopt(r: Recovered): void {
    this.segments = r.segments;
    this.active = r.active;
    this.journal = r.journal;
    this.journalSize = r.journalSize;
    this.journalRecords = r.journalRecords;
    this.ownFileBytes = r.ownFileBytes;
    this.liveBytes = r.liveBytes;
    this.generation = r.generation;
  }

  /** Bytes on disk as the bound counts them: segments, own files, the journal, reservations. */
  diskBytes(): number {
    let segs = 0;
    for (const s of this.segments.values()) if (!s.retiring) segs += s.size;
    return segs + this.ownFileBytes + this.journalSize + this.reserved;
  }

  /** Drops whatever the index holds for `slot`; its bytes go after the journal is synced. Writer only. */
  forget(slot: Buffer, afterSync: Cleanups): boolean {
    const index = this.index;
    const id = index.find(slot);
    if (id < 0) return false;
    this.cache.delete(slot.toString('latin1'));
    const size = index.entrySize(id);
    const segId = index.segment(id);
    if (segId === NO_BYTES) {
      // nothing on disk
    } else if (segId === OWN_FILE) {
      const file = blobPath(this.dir, slot, index.offset(id));
      this.ownFileBytes -= diskFootprint(size);
      afterSync.push(() => unlink(file).catch(() => undefined));
    } else {
      this.segments.get(segId)!.live -= size;
      this.retireIfEmpty(segId, afterSync);
    }
    this.liveBytes -= size;
    index.remove(id);
    return true;
  }

  /** Removes a segment nothing lives in any more (never the active one) once the journal is synced. */
  retireIfEmpty(segId: number, afterSync: Cleanups): void {
    const seg = this.segments.get(segId);
    if (!seg || seg === this.active || seg.retiring || seg.live > 0) return;
    this.segments.delete(segId);
    afterSync.push(() => seg.remove());
  }
}
