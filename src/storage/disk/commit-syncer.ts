// Runs a group commit's I/O (segment writes, their fdatasync, journal write, its fdatasync)
// on a worker thread of the store's own. On the main thread each step is a thread-pool
// trip whose completion waits its turn behind the network callbacks of a busy event loop
// (instrumented by hand under 32 streams of Writes: a pwritev that strace timed at 0.12 ms
// took 5.7 ms to come back); on the worker they run back to back and the main thread hears
// once. Commits are serial (the store has one writer), so one job runs at a time, and its
// bytes are copied into one arena that every job reuses: no allocation per entry. The
// arena is an ArrayBuffer handed to the worker with the job and back with the reply (a
// transfer, not a copy), not a SharedArrayBuffer: V8 copies into shared memory element by
// element, ~13 times slower than into an ArrayBuffer (60 vs 4.7 us per 128 KiB entry,
// measured by hand), and that copy runs on the main thread, once per entry.
import { siblingModuleUrl } from '../../core/module-url.ts';
import { Worker } from 'node:worker_threads';

export interface CommitRequest {
  /** Segment data, each at the position the store placed it. */
  readonly writes: readonly {
    readonly fd: number;
    readonly position: number;
    readonly buffers: readonly Uint8Array[];
  }[];
  /** Files whose data the records name: synced after the writes, before the journal. */
  readonly syncFds: readonly number[];
  readonly journalFd: number;
  readonly journalPosition: number;
  readonly records: readonly Uint8Array[];
  readonly syncJournal: boolean;
}

/** A byte range of the arena. */
export interface ArenaRange {
  readonly start: number;
  readonly length: number;
}

/** What the worker receives: the request with its bytes as ranges of `arena`. */
export interface CommitJob {
  readonly arena: ArrayBuffer;
  readonly writes: readonly (ArenaRange & { readonly fd: number; readonly position: number })[];
  readonly syncFds: readonly number[];
  readonly journalFd: number;
  readonly journalPosition: number;
  readonly records: ArenaRange;
  readonly syncJournal: boolean;
}

export type CommitStep = 'data' | 'journal-write' | 'journal-sync';

export type CommitReply =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly failedAt: CommitStep;
      readonly message: string;
      readonly code?: string;
      readonly errno?: number;
      readonly syscall?: string;
    };

/** What the worker sends back: the reply, and the job's arena for the next job. */
export interface CommitAnswer {
  readonly reply: CommitReply;
  readonly arena: ArrayBuffer;
}

/** A failed step, with the errno fields of the error the worker saw. */
export class CommitFailed extends Error {
  readonly failedAt: CommitStep;
  readonly code: string | undefined;
  readonly errno: number | undefined;
  readonly syscall: string | undefined;

  constructor(reply: Extract<CommitReply, { ok: false }>) {
    super(reply.message);
    this.failedAt = reply.failedAt;
    this.code = reply.code;
    this.errno = reply.errno;
    this.syscall = reply.syscall;
  }
}

const MERGE_BYTES = 128 * 1024;

interface Waiter {
  resolve(reply: CommitReply): void;
  reject(err: Error): void;
}

/** Runs a group commit's I/O. The store's is a CommitSyncer; tests wrap it to hold, record or fail commits. */
export interface CommitRunner {
  /** Rejects with CommitFailed naming the step that failed (later steps did not run). */
  run(request: CommitRequest): Promise<void>;
  close(): Promise<void>;
}

/** Starts a commit worker thread (what CommitSyncer does by default). */
export function startCommitWorker(): Worker {
  return new Worker(siblingModuleUrl(import.meta.url, 'commit-worker'));
}

export class CommitSyncer implements CommitRunner {
  readonly #startWorker: () => Worker;
  #worker: Worker | undefined;
  #pending: Waiter | undefined;
  /** The arena, while no job has it (a worker that dies keeps it; the next job makes another). */
  #arena: ArrayBuffer | undefined;

  /** `startWorker`: for tests, a factory of the worker thread (default startCommitWorker). */
  constructor(startWorker: () => Worker = startCommitWorker) {
    this.#startWorker = startWorker;
  }

  /** Runs `request`; rejects with CommitFailed naming the step that failed (later steps did not run). */
  async run(request: CommitRequest): Promise<void> {
    if (this.#pending) throw new Error('a commit is already running');
    const job = this.#pack(request);
    const worker = (this.#worker ??= this.#start());
    const reply = await new Promise<CommitReply>((resolve, reject) => {
      this.#pending = { resolve, reject };
      worker.ref(); // a commit in flight keeps the process alive; an idle worker does not
      worker.postMessage(job, [job.arena]);
    });
    if (!reply.ok) throw new CommitFailed(reply);
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  /** Copies the request's bytes into the arena (grown to fit), which goes with the job. */
  #pack(r: CommitRequest): CommitJob {
    let total = 0;
    for (const w of r.writes) for (const b of w.buffers) total += b.byteLength;
    for (const b of r.records) total += b.byteLength;
    let arena = this.#arena ?? new ArrayBuffer(4 * 1024 * 1024);
    this.#arena = undefined;
    if (total > arena.byteLength) arena = new ArrayBuffer(Math.max(total, 2 * arena.byteLength));
    const view = new Uint8Array(arena);
    let at = 0;
    const copy = (buffers: readonly Uint8Array[]): ArenaRange => {
      const start = at;
      for (const b of buffers) {
        view.set(b, at);
        at += b.byteLength;
      }
      return { start, length: at - start };
    };
    // Adjacent small ranges of one file become one write, up to MERGE_BYTES: a batch of
    // 4 KiB blobs is hundreds of entries back to back, and a syscall each cost more than the
    // bytes. Larger writes are left alone: joining 128 KiB entries into one write of a whole
    // batch made ByteStream Writes slower, not faster.
    const writes: (ArenaRange & { fd: number; position: number })[] = [];
    for (const w of [...r.writes].sort((a, b) => a.fd - b.fd || a.position - b.position)) {
      const range = copy(w.buffers);
      const last = writes.at(-1);
      // (Their arena ranges are adjacent too: each is copied right after the one before.)
      if (
        last &&
        last.fd === w.fd &&
        last.position + last.length === w.position &&
        last.length + range.length <= MERGE_BYTES
      ) {
        writes[writes.length - 1] = { ...last, length: last.length + range.length };
      } else {
        writes.push({ fd: w.fd, position: w.position, ...range });
      }
    }
    return {
      arena,
      writes,
      syncFds: r.syncFds,
      journalFd: r.journalFd,
      journalPosition: r.journalPosition,
      records: copy(r.records),
      syncJournal: r.syncJournal,
    };
  }

  #start(): Worker {
    const worker = this.#startWorker();
    worker.unref();
    worker.on('message', ({ reply, arena }: CommitAnswer) => {
      this.#arena = arena;
      this.#settle(worker, (p) => p.resolve(reply));
    });
    worker.on('error', (err) => this.#lost(worker, err));
    worker.on('exit', (code) => this.#lost(worker, new Error(`the commit worker exited with code ${code}`)));
    return worker;
  }

  #settle(worker: Worker, how: (p: Waiter) => void): void {
    const p = this.#pending;
    this.#pending = undefined;
    worker.unref();
    if (p) how(p);
  }

  /** The worker is gone: the job in flight fails and the next one starts a new worker. */
  #lost(worker: Worker, err: Error): void {
    if (this.#worker === worker) this.#worker = undefined;
    this.#settle(worker, (p) => p.reject(err));
  }
}
