// A full file system is a bound too. The configured `maxBytes` may be more than the file
// system holds (or other files may take its space), so the bound the store works to, its
// effective bound, is the smaller of `maxBytes` and what the file system really gives it:
//
//   capacity = the store's own bytes on disk + what statfs says is free + the spare file
//   effective = min(maxBytes, capacity - SPARE_BYTES - HEADROOM_BYTES)
//
// It is measured at open (an unbounded store starts unbounded) and again whenever a write
// fails with ENOSPC or EDQUOT, and then at most once a minute while it is below `maxBytes`.
// So it falls at once when the disk fills, and it rises again (up to `maxBytes`, never past)
// when space is freed outside the store, or at a restart; the store's own deletes and
// evictions do not raise it (they turn its bytes into free space: the sum stays the same).
//
// The spare file (`<dir>/spare`, SPARE_BYTES of zeros) is what lets a full disk be
// recovered from: bytes are freed only after the journal records that nothing references
// them (delete records), and on a disk with no byte free that append could fail too. So
// on ENOSPC the spare is removed first, the evictions are journaled in its space, and it is
// written again once they have freed theirs. HEADROOM_BYTES is kept free below the bound
// so that a commit's data (written before its evictions free anything) usually fits.
import { open, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { CommitFailed } from './commit-syncer.ts';
import { sparePath } from './layout.ts';
import type { StoreState } from './store-state.ts';

export const SPARE_BYTES = 1024 * 1024;
const HEADROOM_BYTES = 1024 * 1024;
const REMEASURE_MS = 60_000;

/** Whether `err` is the file system refusing a write for lack of space (or of quota). */
export function isNoSpace(err: unknown): boolean {
  const code = err instanceof CommitFailed ? err.code : (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Told when the effective bound falls below the configured one, and when it is back. */
export type BoundListener = (effectiveMaxBytes: number, maxBytes: number) => void;

export class FileSystemBound {
  readonly #s: StoreState;
  readonly #spare: string;
  readonly #listener: BoundListener | undefined;
  #spareHeld = false;
  #measuredAt = 0;
  #reportedLow = false;

  constructor(state: StoreState, listener?: BoundListener) {
    this.#s = state;
    this.#spare = sparePath(state.dir);
    this.#listener = listener;
  }

  /** At open: writes the spare file if missing, then measures (a bounded store only). */
  async open(): Promise<void> {
    await this.restoreSpare();
    if (this.#s.maxBytes > 0) await this.#measure();
  }

  /**
   * After a write failed for lack of space: frees the spare (so the evictions that make room
   * can be journaled) and lowers the bound to what the file system holds. `held`: bytes on
   * disk the store does not count (temp files of puts being received, beyond their
   * reservations), which are the store's all the same.
   */
  async noSpace(held = 0): Promise<void> {
    await this.#releaseSpare();
    await this.#measure(held);
  }

  /** Whether the bound is below the configured one and was last measured a while ago. */
  due(): boolean {
    const s = this.#s;
    return (
      (s.maxBytes === 0 || s.effectiveMaxBytes < s.maxBytes) &&
      s.effectiveMaxBytes > 0 &&
      performance.now() - this.#measuredAt > REMEASURE_MS
    );
  }

  async remeasure(): Promise<void> {
    await this.restoreSpare();
    await this.#measure();
  }

  /** Writes the spare file if it is not there; on a disk too full for it, leaves it absent. */
  async restoreSpare(): Promise<void> {
    if (this.#spareHeld) return;
    let fh: FileHandle | undefined;
    try {
      fh = await open(this.#spare, 'w');
      await fh.write(Buffer.alloc(SPARE_BYTES), 0, SPARE_BYTES, 0);
      this.#spareHeld = true;
    } catch {
      // too full for it now: tried again after the next evictions
    } finally {
      await fh?.close().catch(() => undefined);
    }
    if (!this.#spareHeld) await unlink(this.#spare).catch(() => undefined);
  }

  async #releaseSpare(): Promise<void> {
    if (!this.#spareHeld) return;
    this.#spareHeld = false;
    await unlink(this.#spare).catch(() => undefined);
  }

  async #measure(held = 0): Promise<void> {
    const s = this.#s;
    let free: number;
    try {
      const fs = await statfs(s.dir, { bigint: true });
      free = Number(fs.bavail * fs.bsize);
    } catch {
      return; // no figure: keep the bound as it is
    }
    this.#measuredAt = performance.now();
    // The store's own bytes as the disk holds them: reservations are promises, not bytes.
    const own = s.diskBytes() - s.reserved + held + (this.#spareHeld ? SPARE_BYTES : 0);
    // At least 1: 0 would read as unbounded.
    const holds = Math.max(1, own + free - SPARE_BYTES - HEADROOM_BYTES);
    const bound = s.maxBytes > 0 ? Math.min(s.maxBytes, holds) : holds;
    s.setEffectiveMaxBytes(bound);
    const low = s.maxBytes === 0 || bound < s.maxBytes;
    if (low !== this.#reportedLow) {
      this.#reportedLow = low;
      this.#listener?.(bound, s.maxBytes);
    }
  }
}
