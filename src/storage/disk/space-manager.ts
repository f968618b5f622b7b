// Space management: keeps the store's bytes on disk within its bound, from the writer,
// before a commit writes anything. Exact LRU eviction over entries while live data is the
// problem; compaction (a segment's live entries copied forward with move records, then the
// segment removed) while dead space is: evicting from a segment that still holds live
// entries frees nothing until the segment is compacted. The bound is the effective one:
// the configured `maxBytes`, or less when the file system holds less (file-system-bound.ts).
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
      const slot = s.index.slot(id);
      const del = seal(encodeDelete(slot));
      b.frames.push(del);
      b.evictions.push(del);
      b.pendingBytes += del.length;
      s.forget(slot, b.afterSync);
      s.evictions++;
    }
    return true;
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
