// The spool of interrupted uncompressed ByteStream uploads, so a client can ask
// QueryWriteStatus for the committed offset and resume instead of starting over.
// A spool is private to this frontend and is NEVER visible in the store: on resumption
// its bytes are streamed, followed by the new data, into one store.put that verifies the
// whole blob (rule 1). Bounded in bytes and age; the oldest idle spools go first. Only one
// Write owns a spool at a time (a retry waits for the cut call it replaces to let go).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { writeFully } from '../../core/write-fully.ts';

export interface PartialUploadsOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  readonly logger?: Logger;
  /**
   * This request thread's index when several share `dir` (`--workers N`). A thread names
   * the spools it writes after itself; a cut upload's spool is then truncated to what was
   * kept and renamed to its resting name, which any thread's resumed Write claims with a
   * rename (atomic: one claimant wins; the other starts over). Only resting spools are on
   * disk alone, and every thread bounds them by age and bytes.
   */
  readonly sharedBy?: number;
}

interface SpoolEntry {
  readonly file: string;
  size: number;
  touched: number;
  active: boolean;
}

const SUFFIX = '.partial';

export class PartialUploads {
  readonly #opts: PartialUploadsOptions;
  readonly #entries = new Map<string, SpoolEntry>();
  readonly #owners = new Map<string, Promise<void>>();
  readonly #sweeper: NodeJS.Timeout;
  #bytes = 0;
  #ready: Promise<void>;

  constructor(opts: PartialUploadsOptions) {
    this.#opts = opts;
    this.#ready = this.#init();
    this.#sweeper = setInterval(
      () => {
        this.#evict(0);
        if (opts.sharedBy !== undefined) void this.#sweepResting();
      },
      Math.min(60_000, Math.max(1000, opts.maxAgeMs / 4)),
    );
    this.#sweeper.unref();
  }

  /**
   * Spools from an earlier process are not indexed, so they are removed at start; in a
   * shared directory only this thread's earlier incarnation's are (its owner cleared the rest).
   */
  async #init(): Promise<void> {
    await fs.mkdir(this.#opts.dir, { recursive: true });
    const own = this.#opts.sharedBy === undefined ? SUFFIX : `.t${this.#opts.sharedBy}${SUFFIX}`;
    for (const name of await fs.readdir(this.#opts.dir)) {
      if (name.endsWith(own)) await fs.rm(path.join(this.#opts.dir, name), { force: true });
    }
  }

  /** Bytes kept for `id` (live while a Write appends here), or undefined when none. */
  async committed(id: string): Promise<number | undefined> {
    const size = this.#entries.get(id)?.size;
    if (size !== undefined || this.#opts.sharedBy === undefined) return size;
    await this.#ready;
    return fs.stat(this.#restingFile(id)).then(
      (st) => st.size,
      () => undefined,
    );
  }

  #restingFile(id: string): string {
    return path.join(this.#opts.dir, createHash('sha256').update(id).digest('hex') + SUFFIX);
  }

  /** The file this thread writes `id`'s spool to (the resting name when not shared). */
  #ownFile(id: string): string {
    const resting = this.#restingFile(id);
    return this.#opts.sharedBy === undefined
      ? resting
      : resting.replace(/\.partial$/, `.t${this.#opts.sharedBy}${SUFFIX}`);
  }

  /** Claims a resting spool another thread left: its size, or 0 when there is none to claim. */
  async #claim(id: string, file: string): Promise<number> {
    try {
      await fs.rename(this.#restingFile(id), file);
      return (await fs.stat(file)).size;
    } catch {
      return 0;
    }
  }

  /** Leaves a cut upload's spool for any thread to resume: only the kept bytes, under the resting name. */
  async #rest(id: string, e: SpoolEntry): Promise<void> {
    if (this.#entries.get(id) !== e) return;
    this.#entries.delete(id);
    this.#bytes -= e.size;
    try {
      await fs.truncate(e.file, e.size);
      await fs.rename(e.file, this.#restingFile(id));
    } catch (err) {
      this.#opts.logger?.warn({ err }, 'could not leave a partial upload for resumption');
      await fs.rm(e.file, { force: true }).catch(() => undefined);
    }
  }

  /** Resting spools (shared directory) past the age bound go, then the oldest past the byte bound. */
  async #sweepResting(): Promise<void> {
    const dir = this.#opts.dir;
    const resting = [];
    for (const name of await fs.readdir(dir).catch(() => [])) {
      if (!/^[0-9a-f]{64}\.partial$/.test(name)) continue;
      const st = await fs.stat(path.join(dir, name)).catch(() => undefined);
      if (st) resting.push({ file: path.join(dir, name), size: st.size, mtime: st.mtimeMs });
    }
    resting.sort((a, b) => a.mtime - b.mtime);
    let bytes = resting.reduce((n, r) => n + r.size, 0);
    const now = Date.now();
    for (const r of resting) {
      if (now - r.mtime <= this.#opts.maxAgeMs && bytes <= this.#opts.maxBytes) break;
      await fs.rm(r.file, { force: true }).catch(() => undefined);
      bytes -= r.size;
    }
  }

  /**
   * Exclusive use of `id`'s spool for one Write, waiting for a previous owner (typically
   * the cut call a retry replaces) to release it. The spool may be empty (size 0).
   */
  async acquire(id: string, signal: AbortSignal): Promise<Spool> {
    await this.#ready;
    for (let owner = this.#owners.get(id); owner; owner = this.#owners.get(id)) {
      await raceAbort(owner, signal);
    }
    let release!: () => void;
    this.#owners.set(id, new Promise<void>((r) => (release = r)));
    let entry = this.#entries.get(id);
    if (!entry) {
      const file = this.#ownFile(id);
      const size = this.#opts.sharedBy === undefined ? 0 : await this.#claim(id, file);
      entry = { file, size, touched: Date.now(), active: true };
      this.#bytes += size;
      this.#entries.set(id, entry);
    }
    entry.active = true;
    return new Spool(this, id, entry, () => {
      this.#owners.delete(id);
      release();
    });
  }

  /** Drops `id`'s spool unless a Write owns it (a blob that now exists needs none). */
  async discard(id: string): Promise<void> {
    const e = this.#entries.get(id);
    if (e && !e.active) await this.#drop(id, e);
    if (!e && this.#opts.sharedBy !== undefined) await fs.rm(this.#restingFile(id), { force: true });
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#ready.catch(() => undefined);
    for (const [id, e] of this.#entries) await this.#drop(id, e);
    // Leave no empty directory behind (a non-empty one holds someone else's files: keep it).
    await fs.rmdir(this.#opts.dir).catch(() => undefined);
  }

  /** Makes room for `incoming` more bytes; false when even eviction cannot. */
  reserve(incoming: number): boolean {
    // Per chunk, so only walk the spools when over the bound; age is the sweeper's job.
    if (this.#bytes + incoming > this.#opts.maxBytes) this.#evict(incoming);
    if (this.#bytes + incoming > this.#opts.maxBytes) return false;
    this.#bytes += incoming;
    return true;
  }

  /** Returns a reservation whose bytes were not written after all. */
  unreserve(bytes: number): void {
    this.#bytes -= bytes;
  }

  async #drop(id: string, e: SpoolEntry): Promise<void> {
    if (this.#entries.get(id) !== e) return;
    this.#entries.delete(id);
    this.#bytes -= e.size;
    await fs
      .rm(e.file, { force: true })
      .catch((err: unknown) => this.#opts.logger?.warn({ err }, 'could not remove a partial upload'));
  }

  #evict(incoming: number): void {
    const now = Date.now();
    // Map order is creation order, close enough to "oldest first" for a bounded spool.
    for (const [id, e] of this.#entries) {
      if (e.active) continue;
      const old = now - e.touched > this.#opts.maxAgeMs;
      if (!old && this.#bytes + incoming <= this.#opts.maxBytes) continue;
      void this.#drop(id, e);
    }
  }

  /** Called by a Spool when its Write ends. */
  async settle(id: string, e: SpoolEntry, keep: boolean): Promise<void> {
    e.active = false;
    e.touched = Date.now();
    if (!keep || e.size === 0) await this.#drop(id, e);
    else if (this.#opts.sharedBy !== undefined) await this.#rest(id, e);
    else this.#evict(0);
  }
}

/** One Write's handle on its spool: append as data arrives, replay the prefix, settle. */
export class Spool {
  readonly #owner: PartialUploads;
  readonly #id: string;
  readonly #entry: SpoolEntry;
  readonly #release: () => void;
  #handle: fs.FileHandle | undefined;
  /** Set once spooling failed or hit the bound: the upload goes on, no longer resumable past here. */
  #stopped = false;

  constructor(owner: PartialUploads, id: string, entry: SpoolEntry, release: () => void) {
    this.#owner = owner;
    this.#id = id;
    this.#entry = entry;
    this.#release = release;
  }

  /** Bytes kept: the offset a resumed Write continues from. */
  get size(): number {
    return this.#entry.size;
  }

  /** The kept bytes, for replay into the store ahead of the new data. */
  prefix(signal: AbortSignal): Readable | undefined {
    if (this.#entry.size === 0) return undefined;
    return createReadStream(this.#entry.file, { start: 0, end: this.#entry.size - 1, signal });
  }

  /**
   * Appends one message's data, given as its parts, at the committed offset (one write for
   * all of them); a failure only stops spooling, never the upload.
   */
  async append(parts: readonly Uint8Array[]): Promise<void> {
    if (this.#stopped) return;
    const length = parts.reduce((n, p) => n + p.byteLength, 0);
    if (length === 0) return;
    if (!this.#owner.reserve(length)) {
      this.#stopped = true;
      return;
    }
    try {
      this.#handle ??= await fs.open(this.#entry.file, this.#entry.size === 0 ? 'w' : 'r+');
      await writeFully(this.#handle, parts, this.#entry.size);
      this.#entry.size += length;
    } catch {
      this.#owner.unreserve(length);
      this.#stopped = true;
    }
  }

  /**
   * Forgets the bytes past `offset`: a client may resume from less than it was told (it
   * asked while the cut call's last messages were still arriving), and resending is safe.
   */
  truncate(offset: number): void {
    if (offset >= this.#entry.size) return;
    this.#owner.unreserve(this.#entry.size - offset);
    this.#entry.size = offset;
  }

  /** keep: the upload was cut and may resume; otherwise the spool is deleted. */
  async settle(keep: boolean): Promise<void> {
    try {
      await this.#handle?.close();
      this.#handle = undefined;
      await this.#owner.settle(this.#id, this.#entry, keep);
    } finally {
      this.#release();
    }
  }
}

function raceAbort(p: Promise<void>, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      () => resolve(),
    );
  });
}
