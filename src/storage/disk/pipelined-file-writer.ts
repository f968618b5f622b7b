// Writes a stream of chunks to a file with one write in flight while the next batch gathers.
// The hash of a put runs on this thread and the write on libuv's pool, so overlapping them
// is what lets a large put approach the slower of the two instead of their sum. Chunks are
// gathered (not copied) into batches of about `batchBytes` and written with one writev:
// network chunks are 16–64 KiB, and a pool round trip per chunk costs more than the copy.
// With `flushEveryBytes`, an fdatasync runs beside the writes every so many bytes, so the
// disk drains while later batches hash (measured: 64 MiB puts 0.9 -> 1.3 GB/s when the
// disk gives 1.4) and the caller's closing fsync has little left to do.
// With `onNoSpace`, a write the file system refuses for lack of space (ENOSPC, EDQUOT) waits
// for the store to make room and is written again at the same position.
import type { FileHandle } from 'node:fs/promises';
import { writeFully } from '../../core/write-fully.ts';
import { isNoSpace } from './file-system-bound.ts';

const DEFAULT_BATCH_BYTES = 1024 * 1024;
// Writes of one batch after room was made: more means the room keeps being taken elsewhere.
const NO_SPACE_RETRIES = 3;

export interface PipelinedFileWriterOptions {
  readonly batchBytes?: number;
  /** fdatasync after each this many bytes written (0: never; the caller syncs at the end). */
  readonly flushEveryBytes?: number;
  /**
   * Makes room after a write failed for lack of space, given the bytes the file held before
   * that write and the write's; resolves false when no room could be made.
   */
  readonly onNoSpace?: (written: number, writing: number) => Promise<boolean>;
}

export class PipelinedFileWriter {
  readonly #fh: FileHandle;
  readonly #batchBytes: number;
  readonly #flushEvery: number;
  readonly #onNoSpace: ((written: number, writing: number) => Promise<boolean>) | undefined;
  #unflushed = 0;
  #batch: Uint8Array[] = [];
  #gathered = 0;
  #position = 0;
  #inFlight: Promise<void> | undefined;
  #syncing: Promise<void> | undefined;
  #syncError: unknown;

  constructor(fh: FileHandle, options: PipelinedFileWriterOptions = {}) {
    this.#fh = fh;
    this.#batchBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES;
    this.#flushEvery = options.flushEveryBytes ?? 0;
    this.#onNoSpace = options.onNoSpace;
  }

  /** Takes a chunk; the caller must not change it afterwards. Waits only when a batch is full. */
  async push(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength === 0) return;
    this.#batch.push(chunk);
    this.#gathered += chunk.byteLength;
    if (this.#gathered >= this.#batchBytes) await this.#startWrite();
  }

  /** Writes what is gathered and waits for every write; the file then holds all pushed bytes. */
  async finish(): Promise<void> {
    if (this.#gathered > 0) await this.#startWrite();
    await this.#inFlight;
    await this.#syncing;
    if (this.#syncError !== undefined) throw this.#syncError;
  }

  /** Waits for a write in flight to end, ignoring its outcome (before closing after a failure). */
  async abandon(): Promise<void> {
    await this.#inFlight?.catch(() => undefined);
    await this.#syncing;
  }

  async #startWrite(): Promise<void> {
    await this.#inFlight;
    const batch = this.#batch;
    const position = this.#position;
    this.#batch = [];
    this.#position += this.#gathered;
    this.#unflushed += this.#gathered;
    this.#gathered = 0;
    const write = this.#onNoSpace
      ? this.#writeMakingRoom(batch, position, this.#position - position)
      : writeFully(this.#fh, batch, position);
    if (this.#flushEvery > 0 && this.#unflushed >= this.#flushEvery && this.#syncing === undefined) {
      // Runs beside the next writes (another pool thread), never ahead of the one it follows.
      this.#unflushed = 0;
      // A failed sync is kept, not dropped: the kernel reports a writeback error once, so a
      // later fsync may pass and the bytes must not be published on its word (fsyncgate).
      const sync = write
        .then(() => this.#fh.datasync())
        .catch((err: unknown) => {
          this.#syncError ??= err;
        })
        .finally(() => {
          if (this.#syncing === sync) this.#syncing = undefined;
        });
      this.#syncing = sync;
    }
    // Marked handled here, so a failure while the caller is still receiving is not an
    // unhandled rejection; the next push or finish awaits it and throws it.
    write.catch(() => undefined);
    this.#inFlight = write;
  }

  /** Writes a batch; when the file system is full, has room made and writes it again. */
  async #writeMakingRoom(batch: readonly Uint8Array[], position: number, length: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await writeFully(this.#fh, batch, position);
      } catch (err) {
        if (!isNoSpace(err) || attempt > NO_SPACE_RETRIES || !(await this.#onNoSpace!(position, length))) throw err;
      }
    }
  }
}
