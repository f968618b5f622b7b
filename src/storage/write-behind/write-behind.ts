// Write-behind to a slower tier (the bucket): a put is acknowledged once the local tier has
// the entry and its key is durable in the upload queue; the uploader sends it later. This
// bundles the two and owns their lifecycle. ReadThroughStore uses it in place of its
// write-through copy when the stack is configured for write-behind.
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Key } from '../../core/keys.ts';
import type { Store } from '../store.ts';
import { BucketUploader, type ReferencesOf, type UploaderLogger, type UploaderStats } from './bucket-uploader.ts';
import { UploadQueue } from './upload-queue.ts';

export interface WriteBehindOptions {
  /** Directory of the queue file (created). */
  readonly dir: string;
  /** The local tier entries are read from. */
  readonly source: Store;
  /** The tier they are sent to. */
  readonly target: Store;
  readonly referencesOf: ReferencesOf;
  /** Bounds of the queue: puts wait beyond them (back-pressure). */
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly sync: boolean;
  readonly concurrency?: number;
  readonly logger?: UploaderLogger;
  readonly retryMs?: number;
  readonly patienceMs?: number;
  /** Told each time an entry reached the target. */
  readonly onDelivered?: () => void;
}

export const QUEUE_FILE = 'queue.jsonl';

export class WriteBehind {
  readonly #queue: UploadQueue;
  readonly #uploader: BucketUploader;

  private constructor(queue: UploadQueue, uploader: BucketUploader) {
    this.#queue = queue;
    this.#uploader = uploader;
  }

  /** Opens the queue (what an earlier run left is sent first) and starts the uploader. */
  static async open(o: WriteBehindOptions): Promise<WriteBehind> {
    await mkdir(o.dir, { recursive: true });
    const queue = await UploadQueue.open({
      file: path.join(o.dir, QUEUE_FILE),
      maxEntries: o.maxEntries,
      maxBytes: o.maxBytes,
      sync: o.sync,
    });
    const uploader = new BucketUploader({
      source: o.source,
      target: o.target,
      queue,
      referencesOf: o.referencesOf,
      concurrency: o.concurrency,
      logger: o.logger,
      retryMs: o.retryMs,
      patienceMs: o.patienceMs,
      onDelivered: o.onDelivered,
    });
    uploader.start();
    return new WriteBehind(queue, uploader);
  }

  /** Resolves once `key` is durably queued (after waiting for room when the queue is full). */
  enqueue(key: Key, size: number, signal?: AbortSignal): Promise<void> {
    return this.#queue.enqueue(key, size, { signal });
  }

  /** Entries accepted and not yet in the target. */
  get pending(): number {
    return this.#queue.size;
  }

  get pendingBytes(): number {
    return this.#queue.bytes;
  }

  stats(): UploaderStats {
    return this.#uploader.stats();
  }

  /** Stops the uploader (what is in flight stays queued) and closes the queue. */
  async close(): Promise<void> {
    await this.#uploader.stop();
    await this.#queue.close();
  }
}
