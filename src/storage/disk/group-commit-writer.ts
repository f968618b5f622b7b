// The disk store's single writer (rule 2: one writer per log). Verified puts, reservations
// for large puts, deletes and requests for room are queued here; the writer takes what is
// queued as one batch (group commit, so one fdatasync covers many small puts) and has the
// batch committer (batch-committer.ts) commit it.
//
// A full disk: a batch whose commit fails for lack of space (ENOSPC, EDQUOT) is taken back,
// the bound lowered to what the file system holds (file-system-bound.ts), and the evictions
// that make room for it committed on their own, so their bytes are gone before the batch's
// data is written again (a commit writes its data before its evictions free anything).
// Only when no room can be made do its ops fail, with InsufficientStorage.
import { ErrorCode, HoardError, toHoardError } from '../../core/errors.ts';
import type { BatchCommitter } from './batch-committer.ts';
import { needOf, type Deferred, type WriterOp } from './commit-batch.ts';
import { isNoSpace } from './file-system-bound.ts';

// Segment data one commit writes at most: bounds the commit worker's arena and keeps one
// commit from holding up the puts queued behind it.
const BATCH_DATA_BYTES = 32 * 1024 * 1024;
// Commits of one batch after the file system refused it for lack of space, each after
// making room: more means the room made keeps being taken by something else.
const NO_SPACE_RETRIES = 3;

export class GroupCommitWriter {
  readonly #committer: BatchCommitter;
  readonly #queue: WriterOp[] = [];
  #running: Promise<void> | undefined;

  constructor(committer: BatchCommitter) {
    this.#committer = committer;
  }

  /** Queues an op; the promise settles when its commit has (or the op was refused). */
  enqueue<T>(make: (done: Deferred<T>) => WriterOp): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(make({ resolve, reject }));
      this.#start();
    });
  }

  /**
   * Waits until nothing is queued or committing, then journals the evictions a failed
   * commit left unjournaled (while the journal can still take them) and stops the runner.
   */
  async close(): Promise<void> {
    while (this.#running) await this.#running;
    if (this.#committer.hasCarried) await this.#committer.commit([], []).catch(() => undefined);
    await this.#committer.close();
  }

  #start(): void {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
      // An op queued after the writer's last look at the queue but before this callback
      // (a put resolved by the last commit can enqueue its successor in between) would
      // otherwise wait forever.
      if (this.#queue.length > 0) this.#start();
    });
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) await this.#commitOrRefuse(this.#queue.splice(0, this.#batchLength()));
  }

  /**
   * Commits `batch`, making room and trying again when the file system is full; else fails
   * its ops. Ops a commit deferred (a namespace quota) go back to the front of the queue.
   */
  async #commitOrRefuse(batch: WriterOp[]): Promise<void> {
    let ops = batch;
    for (let attempt = 1; ; attempt++) {
      const accepted: WriterOp[] = [];
      const failed = await this.#committer.commit(ops, accepted).then(
        () => undefined,
        (err: unknown) => ({ err }),
      );
      const deferred = this.#committer.takeDeferred();
      if (deferred.length > 0) this.#queue.unshift(...deferred);
      if (failed === undefined) return;
      const { err } = failed;
      // `accepted`: the ops not refused, deferred or answered before the failure.
      if (isNoSpace(err) && accepted.length > 0 && attempt <= NO_SPACE_RETRIES && (await this.#roomFor(accepted))) {
        ops = accepted;
        continue;
      }
      const e = isNoSpace(err)
        ? new HoardError(
            ErrorCode.InsufficientStorage,
            `the file system is full and no room could be made (${(err as Error).message})`,
            { cause: err },
          )
        : toHoardError(err);
      for (const op of ops) if (!deferred.includes(op)) op.done.reject(e);
      return;
    }
  }

  /**
   * After `ops` failed for lack of space: lowers the bound to what the file system holds and
   * commits, on their own, the evictions that make room for `ops` under it, so their bytes
   * are freed before `ops` write again. False when no room could be made.
   */
  async #roomFor(ops: readonly WriterOp[]): Promise<boolean> {
    let bytes = 0;
    for (const op of ops) bytes += needOf(op);
    let made = false;
    const room: WriterOp = {
      kind: 'room',
      bytes,
      held: 0,
      lower: true,
      done: { resolve: (ok) => (made = ok), reject: () => undefined },
    };
    await this.#committer.commit([room], []).catch(() => undefined);
    return made;
  }

  /** How many queued ops the next commit takes: all, up to BATCH_DATA_BYTES of segment data (at least one). */
  #batchLength(): number {
    let bytes = 0;
    for (let i = 0; i < this.#queue.length; i++) {
      const op = this.#queue[i]!;
      if (op.kind === 'append') bytes += op.data.size;
      if (bytes > BATCH_DATA_BYTES && i > 0) return i;
    }
    return this.#queue.length;
  }
}
