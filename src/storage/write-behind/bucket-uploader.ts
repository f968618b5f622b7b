// Drains the upload queue: copies each queued entry from the local tier to the bucket, a few
// at a time, and marks it done. What it guarantees:
// - An acknowledged entry is retried until the bucket has it (backoff up to MAX_RETRY_MS);
//   it stays queued, durably, across restarts. An entry the local tier evicted before its
//   upload is given up (counted: `lost`): there is nothing left to send.
// - Rule 6 across tiers: an action-cache entry is sent only once every blob it references
//   is in the bucket. Blobs it needs that are local but not queued (the client skipped
//   their upload because the local tier had them) are queued first; an entry whose blobs
//   are in neither tier waits for them a while (a client may send the entry first), then
//   is never sent (`incomplete`), so another server reading the bucket never gets a hit
//   whose outputs exist only on this machine.
// - A CAS blob the bucket already has is not sent again.
import type { Digest } from '../../core/digest.ts';
import { toHoardError } from '../../core/errors.ts';
import { casKey, keyString, type Key } from '../../core/keys.ts';
import type { Store } from '../store.ts';
import type { Pending, UploadQueue } from './upload-queue.ts';

/** The blobs an AC entry references (src/cache/action-refs.ts), injected to keep storage apart from REAPI. */
export type ReferencesOf = (
  store: Store,
  acBytes: Uint8Array,
  ns: string,
  signal?: AbortSignal,
) => Promise<Digest[] | 'opaque' | 'unreadable'>;

export interface UploaderLogger {
  warn(obj: object, msg: string): void;
}

export interface BucketUploaderOptions {
  /** The local tier the entries are read from. */
  readonly source: Store;
  /** The bucket. */
  readonly target: Store;
  readonly queue: UploadQueue;
  readonly referencesOf: ReferencesOf;
  /** Uploads at once (default 16: a bucket serves many requests at once, each slow). */
  readonly concurrency?: number;
  readonly logger?: UploaderLogger;
  /** First retry delay after a failure, doubled up to MAX_RETRY_MS (default 250 ms). */
  readonly retryMs?: number;
  /**
   * How long an AC entry waits for blobs it references that are in neither tier (a client
   * may send the entry before its outputs) before it is given up (default 60 s).
   */
  readonly patienceMs?: number;
  /** Told each time an entry reached the bucket (it answers). */
  readonly onDelivered?: () => void;
}

export interface UploaderStats {
  /** Entries the bucket got from this process (or already had). */
  readonly uploaded: number;
  /** Failed attempts (each retried). */
  readonly failures: number;
  /** Entries the local tier evicted before they could be sent. */
  readonly lost: number;
  /** AC entries never sent because blobs they reference are in neither tier. */
  readonly incomplete: number;
}

const MAX_RETRY_MS = 30_000;
/** While uploads keep failing, how often the log says so again (the first failure is logged at once). */
const OUTAGE_LOG_MS = 60_000;
/** An AC entry waiting for its blobs looks again after this long (doubling, up to MAX_RETRY_MS). */
const AC_WAIT_MS = 100;
const DEFAULT_PATIENCE_MS = 60_000;

interface Job {
  readonly entry: Pending;
  readonly id: string;
  /** Attempts so far (failures and waits). */
  attempts: number;
  /** Not before this time (epoch ms). */
  due: number;
  /** When this process first took it (epoch ms). */
  readonly since: number;
}

export class BucketUploader {
  readonly #o: BucketUploaderOptions;
  readonly #ready: Job[] = [];
  readonly #later = new Set<Job>();
  readonly #inProgress = new Set<string>();
  readonly #stopping = new AbortController();
  /** Idle workers, each waiting to be woken for a job. */
  readonly #sleepers: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #workers: Promise<void>[] = [];
  #uploaded = 0;
  #failures = 0;
  #lost = 0;
  #incomplete = 0;
  /** While uploads fail: since when, how many failed, when the log last said so. */
  #outage: { readonly since: number; failures: number; loggedAt: number } | undefined;

  constructor(options: BucketUploaderOptions) {
    this.#o = options;
  }

  /** Takes what the queue holds now (an earlier run's entries) and everything added later. */
  start(): void {
    for (const entry of this.#o.queue.pending()) this.#add(entry);
    this.#o.queue.onAdd((entry) => this.#add(entry));
    for (let i = 0; i < (this.#o.concurrency ?? 16); i++) this.#workers.push(this.#work());
  }

  stats(): UploaderStats {
    return { uploaded: this.#uploaded, failures: this.#failures, lost: this.#lost, incomplete: this.#incomplete };
  }

  /** True while `key` is queued or being sent: an AC entry that needs it waits. */
  #busy(key: Key): boolean {
    return this.#o.queue.isPending(key) || this.#inProgress.has(keyString(key));
  }

  /** Stops: uploads in flight are cut (they stay queued for the next start). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    clearTimeout(this.#timer);
    for (const wake of this.#sleepers.splice(0)) wake();
    await Promise.all(this.#workers);
  }

  #add(entry: Pending): void {
    const id = keyString(entry.key);
    this.#ready.push({ entry, id, attempts: 0, due: 0, since: Date.now() });
    this.#sleepers.shift()?.();
  }

  async #work(): Promise<void> {
    const signal = this.#stopping.signal;
    while (!signal.aborted) {
      const job = this.#next();
      if (job === undefined) {
        await new Promise<void>((resolve) => this.#sleepers.push(resolve));
        continue;
      }
      this.#inProgress.add(job.id);
      try {
        await this.#send(job, signal);
      } finally {
        this.#inProgress.delete(job.id);
      }
    }
  }

  /** The next job that is due and not already being sent (a key queued twice is sent once). */
  #next(): Job | undefined {
    while (this.#ready.length > 0) {
      const job = this.#ready.shift()!;
      if (!this.#o.queue.isPending(job.entry.key)) continue; // done meanwhile
      if (this.#inProgress.has(job.id)) {
        this.#retryLater(job, AC_WAIT_MS);
        continue;
      }
      return job;
    }
    return undefined;
  }

  #retryLater(job: Job, baseMs: number): void {
    job.attempts++;
    job.due = Date.now() + Math.min(MAX_RETRY_MS, baseMs * 2 ** Math.min(job.attempts - 1, 16));
    this.#later.add(job);
    this.#schedule();
  }

  /** Moves due jobs back to the ready list at the earliest due time. */
  #schedule(): void {
    if (this.#stopping.signal.aborted) return;
    clearTimeout(this.#timer);
    let earliest = Infinity;
    for (const job of this.#later) earliest = Math.min(earliest, job.due);
    if (earliest === Infinity) return;
    this.#timer = setTimeout(
      () => {
        const now = Date.now();
        for (const job of this.#later) {
          if (job.due <= now) {
            this.#later.delete(job);
            this.#ready.push(job);
          }
        }
        this.#schedule();
        for (const wake of this.#sleepers.splice(0)) wake();
      },
      Math.max(0, earliest - Date.now()),
    ).unref();
  }

  async #send(job: Job, signal: AbortSignal): Promise<void> {
    const { key, size } = job.entry;
    const { source, target, queue } = this.#o;
    try {
      if (key.keyspace === 'ac') {
        const verdict = await this.#sendActionResult(key, Date.now() - job.since, signal);
        if (verdict === 'wait') return this.#retryLater(job, AC_WAIT_MS);
      } else if (key.keyspace === 'cas' && (await target.has([key], [size]))[0]) {
        this.#delivered();
      } else {
        const entry = await source.get(key, { signal });
        if (entry === undefined) {
          this.#lost++;
        } else {
          await target.put(key, entry.stream, { size: entry.size, signal });
          this.#delivered();
        }
      }
      queue.complete(key);
    } catch (err) {
      if (signal.aborted) return; // stopping: it stays queued
      this.#failures++;
      this.#failed(key, err);
      this.#retryLater(job, this.#o.retryMs ?? 250);
    }
  }

  /** An entry reached the bucket (or it had the blob already): the bucket answers. */
  #delivered(): void {
    this.#uploaded++;
    if (this.#outage !== undefined) {
      const { since, failures } = this.#outage;
      this.#outage = undefined;
      this.#o.logger?.warn(
        { failures, failingMs: Date.now() - since, pending: this.#o.queue.size },
        'uploads to the bucket succeed again',
      );
    }
    this.#o.onDelivered?.();
  }

  /**
   * Logs a failed upload once when uploads start failing and once every OUTAGE_LOG_MS while
   * they go on, not once per entry: an outage fails every queued entry, again and again.
   */
  #failed(key: Key, err: unknown): void {
    const now = Date.now();
    if (this.#outage !== undefined) {
      this.#outage.failures++;
      if (now - this.#outage.loggedAt < OUTAGE_LOG_MS) return;
      this.#outage.loggedAt = now;
    } else {
      this.#outage = { since: now, failures: 1, loggedAt: now };
    }
    const e = toHoardError(err);
    this.#o.logger?.warn(
      {
        keyspace: key.keyspace,
        namespace: key.namespace,
        id: key.id,
        code: e.code,
        message: e.message,
        failures: this.#outage.failures,
        failingMs: now - this.#outage.since,
        pending: this.#o.queue.size,
      },
      'uploads to the bucket fail: the entries stay queued and are retried',
    );
  }

  /**
   * Sends an AC entry when the bucket has every blob it references; queues the blobs it
   * lacks that are local; 'wait' while any is on its way. An entry that can never be
   * complete in the bucket is given up (not sent).
   */
  async #sendActionResult(key: Key, waited: number, signal: AbortSignal): Promise<'sent' | 'wait' | 'given up'> {
    const { source, target, queue } = this.#o;
    const patient = waited < (this.#o.patienceMs ?? DEFAULT_PATIENCE_MS);
    const bytes = await source.getBytes(key, { signal });
    if (bytes === undefined) {
      this.#lost++;
      return 'given up';
    }
    const refs = await this.#o.referencesOf(source, bytes, key.namespace, signal);
    if (refs === 'unreadable') {
      if (patient) return 'wait';
      this.#incomplete++;
      return 'given up';
    }
    if (refs !== 'opaque' && refs.length > 0) {
      const keys = refs.map((d) => casKey(d.hash, key.namespace));
      const inBucket = await target.has(
        keys,
        refs.map((d) => d.sizeBytes),
      );
      const missing = refs.filter((_, i) => !inBucket[i]);
      if (missing.length > 0) {
        if (missing.some((d) => this.#busy(casKey(d.hash, key.namespace)))) return 'wait';
        const local = await source.has(
          missing.map((d) => casKey(d.hash, key.namespace)),
          missing.map((d) => d.sizeBytes),
        );
        if (!local.every(Boolean)) {
          if (patient) return 'wait';
          this.#incomplete++;
          return 'given up';
        }
        // Over the bound if need be: waiting for room here could wait on this very worker.
        for (const d of missing) await queue.enqueue(casKey(d.hash, key.namespace), d.sizeBytes, { overBound: true });
        return 'wait';
      }
    }
    await target.put(key, bytes, { size: bytes.byteLength, signal });
    this.#delivered();
    return 'sent';
  }
}
