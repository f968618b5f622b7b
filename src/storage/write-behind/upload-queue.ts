// The durable queue of entries accepted locally and not yet in the bucket (write-behind).
// An upload is acknowledged once its entry is durable on the local tier AND its key is
// durable here, so after a crash every acknowledged entry still reaches the bucket: the
// queue is replayed at open and the uploader takes it from there.
//
// On disk it is one append-only file of JSON lines: `{"a":[keyspace,namespace,id],"s":size}`
// adds a key, `{"d":[keyspace,namespace,id]}` marks it uploaded (or given up). Adds are
// group-committed: concurrent enqueues share one write and one fdatasync, and each resolves
// only after it. Done marks are written without a sync of their own (a mark lost in a crash
// makes the entry upload once more, which is harmless). A torn last line (a crash mid-write)
// is ignored on replay. The file is rewritten, atomically, when most of its lines are dead.
//
// Bounded: while the pending entries exceed `maxEntries` or `maxBytes`, enqueue waits for
// uploads to finish. Uploads are back-pressured, never dropped for lack of room.
import { open, readFile, rename, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { keyString, type Key } from '../../core/keys.ts';
import { syncDir } from '../disk/sync-dir.ts';

export interface UploadQueueOptions {
  /** The queue file, e.g. `<dir>/upload-queue/queue.jsonl`; its directory must exist. */
  readonly file: string;
  /** Most entries pending before enqueue waits. */
  readonly maxEntries: number;
  /** Most bytes pending before enqueue waits (one entry larger than this still goes alone). */
  readonly maxBytes: number;
  /** fdatasync after each group of adds (false only in tests and with --durability none). */
  readonly sync: boolean;
}

export interface Pending {
  readonly key: Key;
  readonly size: number;
}

type KeyTuple = [keyspace: Key['keyspace'], namespace: string, id: string];

interface Line {
  readonly a?: KeyTuple;
  readonly s?: number;
  readonly d?: KeyTuple;
}

/** Rewrite the file once it holds this many lines more than twice its live entries. */
const REWRITE_SLACK = 10_000;

export class UploadQueue {
  readonly #options: UploadQueueOptions;
  #fh: FileHandle;
  /** Pending entries in the order they were first queued. */
  readonly #pending = new Map<string, Pending>();
  #pendingBytes = 0;
  #lines = 0;
  /** Adds waiting for the next group commit. */
  #batch: string[] = [];
  #batchDone: Promise<void> | undefined;
  /** Pending keys whose add is not durable yet, with the commit that makes it so. */
  readonly #committing = new Map<string, Promise<void>>();
  #marks: string[] = [];
  #writing: Promise<void> = Promise.resolve();
  /** Enqueues waiting for room, in arrival order. */
  readonly #roomWaiters: (() => void)[] = [];
  /** Told when an entry is added: the uploader takes it. */
  readonly #onAdd: ((entry: Pending) => void)[] = [];
  #closed = false;

  private constructor(options: UploadQueueOptions, fh: FileHandle) {
    this.#options = options;
    this.#fh = fh;
  }

  /** Opens the queue file (creating it), replaying what an earlier run left pending. */
  static async open(options: UploadQueueOptions): Promise<UploadQueue> {
    const pending = new Map<string, Pending>();
    let lines = 0;
    const text = await readFile(options.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue; // a torn last line
      }
      lines++;
      if (line.a !== undefined) {
        const key = keyOf(line.a);
        pending.set(keyString(key), { key, size: line.s ?? 0 });
      } else if (line.d !== undefined) {
        pending.delete(keyString(keyOf(line.d)));
      }
    }
    const fh = await open(options.file, 'a');
    const queue = new UploadQueue(options, fh);
    for (const [id, p] of pending) {
      queue.#pending.set(id, p);
      queue.#pendingBytes += p.size;
    }
    queue.#lines = lines;
    if (text !== '' && !text.endsWith('\n')) await fh.write('\n'); // after a torn line
    await queue.#maybeRewrite();
    return queue;
  }

  /** Entries pending, oldest first (a snapshot). */
  pending(): Pending[] {
    return [...this.#pending.values()];
  }

  get size(): number {
    return this.#pending.size;
  }

  get bytes(): number {
    return this.#pendingBytes;
  }

  isPending(key: Key): boolean {
    return this.#pending.has(keyString(key));
  }

  /** Calls `listener` with every entry added from now on. */
  onAdd(listener: (entry: Pending) => void): void {
    this.#onAdd.push(listener);
  }

  /**
   * Adds `key` and resolves once that is durable; waits first while the queue is full
   * (unless `overBound`: the uploader's own additions). A key already pending is not added
   * twice: it resolves once its first add is durable.
   */
  async enqueue(
    key: Key,
    size: number,
    options: { readonly signal?: AbortSignal; readonly overBound?: boolean } = {},
  ): Promise<void> {
    const id = keyString(key);
    if (this.#pending.has(id)) return this.#committing.get(id);
    while (!options.overBound && this.#full() && !this.#closed) {
      options.signal?.throwIfAborted();
      await new Promise<void>((resolve) => {
        this.#roomWaiters.push(resolve);
        options.signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    this.#checkOpen();
    if (this.#pending.has(id)) return this.#committing.get(id);
    const entry = { key, size };
    this.#pending.set(id, entry);
    this.#pendingBytes += size;
    this.#batch.push(JSON.stringify({ a: tupleOf(key), s: size }));
    const done = (this.#batchDone ??= this.#commitAdds());
    this.#committing.set(id, done);
    try {
      await done;
    } catch (err) {
      // Not durable, so not pending: the put that asked fails, and nothing waits on it.
      this.#pending.delete(id);
      this.#pendingBytes -= size;
      throw err;
    } finally {
      this.#committing.delete(id);
    }
    // Uploaded only once durable here: a crash before that loses nothing acknowledged.
    for (const listener of this.#onAdd) listener(entry);
  }

  /** Marks `key` uploaded (or given up): no longer pending, room for another. */
  complete(key: Key): void {
    const id = keyString(key);
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#pending.delete(id);
    this.#pendingBytes -= p.size;
    this.#marks.push(JSON.stringify({ d: tupleOf(key) }));
    // A mark that fails to reach the file only means the entry is sent again after a
    // restart, and the uploader skips what the bucket has: not worth failing anything.
    this.#write(async () => this.#flushMarks()).catch(() => undefined);
    while (!this.#full() && this.#roomWaiters.length > 0) this.#roomWaiters.shift()!();
  }

  /** Writes what is buffered and closes the file; pending entries stay for the next open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of this.#roomWaiters.splice(0)) wake();
    await this.#batchDone;
    await this.#write(async () => {
      await this.#flushMarks();
      await this.#fh.close();
    });
  }

  #full(): boolean {
    const { maxEntries, maxBytes } = this.#options;
    return this.#pending.size >= maxEntries || (this.#pending.size > 0 && this.#pendingBytes >= maxBytes);
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('the upload queue is closed');
  }

  /** One write and one sync for every add queued since the last commit began. */
  async #commitAdds(): Promise<void> {
    await Promise.resolve(); // let the adds of this turn join
    const lines = this.#batch;
    this.#batch = [];
    this.#batchDone = undefined;
    await this.#write(async () => {
      await this.#fh.write(`${lines.join('\n')}\n`);
      this.#lines += lines.length;
      if (this.#options.sync) await this.#fh.datasync();
    });
  }

  async #flushMarks(): Promise<void> {
    if (this.#marks.length === 0) return;
    const lines = this.#marks;
    this.#marks = [];
    await this.#fh.write(`${lines.join('\n')}\n`);
    this.#lines += lines.length;
    await this.#maybeRewrite();
  }

  /** File operations one after another. */
  #write(op: () => Promise<void>): Promise<void> {
    const next = this.#writing.then(op);
    this.#writing = next.catch(() => undefined);
    return next;
  }

  /** Rewrites the file with only the pending entries, when most of its lines are dead. */
  async #maybeRewrite(): Promise<void> {
    if (this.#lines <= 2 * this.#pending.size + REWRITE_SLACK) return;
    const { file, sync } = this.#options;
    const next = `${file}.next`;
    const lines = [...this.#pending.values()].map((p) => JSON.stringify({ a: tupleOf(p.key), s: p.size }));
    const fh = await open(next, 'w');
    try {
      await fh.write(lines.length === 0 ? '' : `${lines.join('\n')}\n`);
      if (sync) await fh.datasync();
    } finally {
      await fh.close();
    }
    await this.#fh.close();
    await rename(next, file);
    if (sync) await syncDir(path.dirname(file));
    this.#fh = await open(file, 'a');
    this.#lines = lines.length;
  }
}

function tupleOf(key: Key): KeyTuple {
  return [key.keyspace, key.namespace, key.id];
}

function keyOf([keyspace, namespace, id]: KeyTuple): Key {
  return { keyspace, namespace, id };
}
