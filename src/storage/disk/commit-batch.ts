// What a group commit works on: the ops queued for the writer, and what one commit decides
// before its I/O runs (the records it will journal, the segment data it will write and
// where, the copies compaction made, and the cleanups that may run only once the journal no
// longer references the bytes). The batch committer builds a batch; space management adds
// evictions and compaction copies to it.
import type { EncodedRecord } from './journal.ts';
import { diskFootprint } from './layout.ts';
import type { Segment } from './segment.ts';
import type { Cleanups } from './store-state.ts';

/** An entry's bytes as the views they arrived in (a 128 KiB upload is about nine), never joined. */
export interface Parts {
  readonly buffers: readonly Buffer[];
  readonly size: number;
}

/** Where an entry's bytes were written. */
export interface Place {
  readonly seg: Segment;
  readonly offset: number;
}

export interface SegmentWrite extends Place {
  readonly data: Parts;
}

/** A compaction copy, published (or found dead) once the commit's journal is synced. */
export interface Move {
  readonly slot: Buffer;
  readonly size: number;
  readonly from: number;
  readonly fromOffset: number;
  readonly to: number;
  readonly toOffset: number;
}

/** What a failed commit's evictions left undone, for the next commit to journal and run. */
export interface Carried {
  readonly frames: Buffer[];
  readonly afterSync: Cleanups;
}

export interface Batch {
  /** Eviction and move records, journaled before the puts. */
  readonly frames: Buffer[];
  /** The eviction records among `frames` (the index forgot those entries already). */
  readonly evictions: Buffer[];
  /** Put and delete records of the batch's own ops. */
  readonly putFrames: Buffer[];
  /** Unlinks and segment removals, run once the journal no longer references the bytes. */
  readonly afterSync: Cleanups;
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
  /** With quotas: bytes this batch's accepted puts add to each namespace (by name). */
  namespacePending?: Map<string, number>;
}

/** A new batch that starts with what a failed commit carried over. */
export function newBatch(carried: Carried): Batch {
  return {
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
}

/** Places bytes for a commit (the batch committer): counted live, written with the batch. */
export interface Placer {
  placeInBatch(data: Parts, record: EncodedRecord, b: Batch): Promise<Place>;
}

export interface Deferred<T = void> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

export type WriterOp =
  // `place`: where the commit put the bytes (none for an empty entry). `namespace`: the
  // key's, which the index counts the entry in.
  | {
      kind: 'append';
      slot: Buffer;
      namespace: string;
      record: EncodedRecord;
      data: Parts;
      place?: Place;
      done: Deferred;
    }
  | {
      kind: 'publish';
      slot: Buffer;
      namespace: string;
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

/**
 * The room an op needs: its data and its own journal record (a delete's too: a full store
 * that took delete records for free grew past its bound). A file of its own takes what it
 * was not reserved (all of it when no size was declared).
 */
export function needOf(op: WriterOp): number {
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
