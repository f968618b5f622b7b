// Space management: keeps the store's bytes on disk within its bound, from the writer,
// before a commit writes anything. Exact LRU eviction over entries while live data is the
// problem; compaction (a segment's live entries copied forward with move records, then the
// segment removed) while dead space is: evicting from a segment that still holds live
// entries frees nothing until the segment is compacted. The bound is the effective one:
// the configured `maxBytes`, or less when the file system holds less (file-system-bound.ts).
//
// Namespace quotas come first: a put that would take its namespace over its quota evicts
// that namespace's own least recently used entries until it fits, before the store's bound
// is looked at (and so before any other namespace loses an entry).
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { encodeDelete, encodeMove, seal, type EncodedRecord } from './journal.ts';
import type { Batch, Parts, Placer } from './commit-batch.ts';
import type { Segment } from './segment.ts';
import type { StoreState } from './store-state.ts';

const LIVE_TARGET = 0.95; // evict until live data leaves this much room; the rest feeds compaction

export class SpaceManager {
  readonly #s: StoreState;

  constructor(state: StoreState) {
    this.#s = state;
  }

  /**
   * Frees room for `need` more bytes in batch `b`: evicts least recently used entries while
   * live data is the problem, compacts the segment with the most dead bytes while dead space
   * is (its copies placed by `placer`). Returns false when even an empty store could not hold it.
   */
  async makeRoom(need: number, b: Batch, placer: Placer): Promise<boolean> {
    const s = this.#s;
    const maxBytes = s.effectiveMaxBytes;
    if (maxBytes === 0) return true;
    if (need > maxBytes) return false;
    const retiring = new Set<number>();
    while (s.diskBytes() + b.pendingBytes + need > maxBytes) {
      const liveOver = s.liveBytes + s.reserved + b.pendingBytes + need > maxBytes * LIVE_TARGET;
      let victim = liveOver ? undefined : this.#compactionVictim(retiring, b.touched);
      const id = s.index.lruTail;
      if (!victim && id < 0) victim = this.#compactionVictim(retiring, b.touched);
      if (victim) {
        retiring.add(victim.id);
        await this.#compact(victim, b, placer);
        continue;
      }
      if (id < 0) return false;
      this.#evict(id, b);
    }
    return true;
  }

  /**
   * With quotas: makes room in `namespace` for a put of `size` bytes to `slot` (whose
   * current entry, if any, it replaces) by evicting the namespace's least recently used
   * entries. False when what stands in the way is this batch's own earlier puts to the
   * namespace (not in the index yet): the put waits for the next commit, where they are.
   * Throws TooLarge for an entry larger than the whole quota.
   */
  fitNamespace(namespace: string, slot: Buffer, size: number, b: Batch): boolean {
    const s = this.#s;
    const { index } = s;
    const table = index.namespaces;
    const quota = table.quotaOf(namespace);
    if (quota === 0) return true;
    if (size > quota) throw overQuota(namespace, quota, size);
    const pending = b.namespacePending?.get(namespace) ?? 0;
    for (;;) {
      const ns = table.find(namespace);
      let held = ns < 0 ? 0 : table.bytes(ns);
      const replaced = index.find(slot);
      if (replaced >= 0) held -= index.entrySize(replaced);
      if (held + pending + size <= quota) break;
      const victim = ns < 0 ? -1 : index.namespaceTail(ns);
      if (victim < 0) return false;
      this.#evict(victim, b);
    }
    (b.namespacePending ??= new Map()).set(namespace, pending + size);
    return true;
  }

  /** Evicts entry `id` in batch `b`: its delete record is journaled with the batch. */
  #evict(id: number, b: Batch): void {
    const s = this.#s;
    const slot = s.index.slot(id);
    const del = seal(encodeDelete(slot));
    b.frames.push(del);
    b.evictions.push(del);
    b.pendingBytes += del.length;
    s.forget(slot, b.afterSync);
    s.evictions++;
  }

  #compactionVictim(exclude: Set<number>, touched: Set<number>): Segment | undefined {
    let best: Segment | undefined;
    for (const seg of this.#s.segments.values()) {
      if (seg === this.#s.active || seg.retiring || exclude.has(seg.id) || touched.has(seg.id) || seg.dead === 0)
        continue;
      if (!best || seg.dead > best.dead) best = seg;
    }
    return best;
  }

  /** Copies a segment's live entries forward (with move records) and retires it. */
  async #compact(seg: Segment, b: Batch, placer: Placer): Promise<void> {
    const index = this.#s.index;
    const copies: { data: Parts; record: EncodedRecord; slot: Buffer; offset: number }[] = [];
    for (const id of index.lruOrder()) {
      if (index.segment(id) !== seg.id) continue;
      const offset = index.offset(id);
      const slot = index.slot(id);
      const size = index.entrySize(id);
      copies.push({ data: { buffers: [await seg.read(offset, size)], size }, record: encodeMove(slot), slot, offset });
    }
    // Placed now, so each move record can carry its final location; written with the batch.
    for (const c of copies) {
      const to = await placer.placeInBatch(c.data, c.record, b);
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
    // Removed once the moves are published (batch-committer.ts); counted as freed from now on.
    seg.retiring = true;
  }
}

/** The refusal of an entry larger than its namespace's whole quota. */
export function overQuota(namespace: string, quota: number, size?: number): HoardError {
  const entry = size === undefined ? 'an entry' : `an entry of ${size} bytes`;
  return new HoardError(
    ErrorCode.TooLarge,
    `${entry} exceeds the quota of namespace ${JSON.stringify(namespace)} (${quota} bytes)`,
  );
}
