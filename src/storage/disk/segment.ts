// A segment file: small entries back to back, placed by the store's single writer and
// written by its commit worker.
// Readers pin a segment while they read from it, so removing a segment (after eviction or
// compaction) unlinks its name at once but closes the descriptor only when the last reader
// is done: a read that started never sees its bytes vanish.
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { segmentPath } from './layout.ts';

/** How the store opens its journal and segment files: fs.promises.open, or a test's wrapper of it. */
export type OpenFile = (path: string, flags: string) => Promise<FileHandle>;

export class Segment {
  readonly id: number;
  readonly path: string;
  readonly #fh: FileHandle;
  /** Bytes in the file, counting those its writer placed and is committing. */
  size: number;
  /** Bytes of entries the index still points at. */
  live = 0;
  /** Being compacted away: its bytes count as freed, it is removed once the moves land. */
  retiring = false;
  #readers = 0;
  #removed = false;

  private constructor(id: number, path: string, fh: FileHandle, size: number) {
    this.id = id;
    this.path = path;
    this.#fh = fh;
    this.size = size;
  }

  static async open(dir: string, id: number, create: boolean, openFile: OpenFile = open): Promise<Segment> {
    const p = segmentPath(dir, id);
    const fh = await openFile(p, create ? 'wx+' : 'r+');
    const { size } = await fh.stat();
    return new Segment(id, p, fh, size);
  }

  /** The descriptor the commit worker writes and syncs through (open while the writer commits). */
  get fd(): number {
    return this.#fh.fd;
  }

  get dead(): number {
    return this.size - this.live;
  }

  /** Reads `length` bytes at `position` into `into` (or a new buffer); pins the segment meanwhile. */
  async read(position: number, length: number, into?: Buffer): Promise<Buffer> {
    this.#readers++;
    try {
      const buf = into ?? Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await this.#fh.read(buf, done, length - done, position + done);
        if (bytesRead === 0) throw new Error(`segment ${this.id} is shorter than its index says`);
        done += bytesRead;
      }
      return buf;
    } finally {
      this.#readers--;
      if (this.#removed && this.#readers === 0) await this.#fh.close().catch(() => undefined);
    }
  }

  /**
   * Holds the segment open for a reader outside `read` (another thread reading the
   * descriptor in place); the returned function lets go, once.
   */
  pin(): () => void {
    this.#readers++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#readers--;
      if (this.#removed && this.#readers === 0) void this.#fh.close().catch(() => undefined);
    };
  }

  /** Cuts the file back to `size` bytes (what a failed commit placed past it), freeing their space. Writer only. */
  async truncate(size: number): Promise<void> {
    this.size = size;
    await this.#fh.truncate(size);
  }

  /** Unlinks the file; the descriptor closes once no reader holds it. */
  async remove(): Promise<void> {
    if (this.#removed) return;
    this.#removed = true;
    await unlink(this.path).catch(() => undefined);
    if (this.#readers === 0) await this.#fh.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (!this.#removed) await this.#fh.close().catch(() => undefined);
  }
}
