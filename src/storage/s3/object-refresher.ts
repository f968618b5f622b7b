// Keeps objects that builds still use young, so a bucket lifecycle rule that expires
// objects by age removes what nobody used lately, not what everybody uses (an LRU by
// approximation; ARCHITECTURE.md explains why the bucket is bounded this way).
//
// `used(keys)` is told of every hit (from the disk or the bucket) and every entry an
// existence check found. An object is refreshed (copied onto itself, which gives it a new
// Last-Modified) once it is older than `refreshAfterMs`; what was checked is not checked
// again until it could be due, so a hot entry costs one HEAD per refresh period, not one
// per hit. The work is best effort and off the request path: a bounded queue (what does
// not fit is dropped, and asked again on a later hit) and a few requests at a time.
import { keyString, type Key } from '../../core/keys.ts';

export interface RefreshTarget {
  /** The object's age: its Last-Modified (epoch ms), or null when it is not in the bucket. */
  lastModified(key: Key): Promise<number | null>;
  /** Copies the object onto itself, renewing its Last-Modified. */
  renew(key: Key): Promise<void>;
}

export interface ObjectRefresherOptions {
  readonly target: RefreshTarget;
  /** An object older than this is renewed when it is used. */
  readonly refreshAfterMs: number;
  /** Requests at once (default 2). */
  readonly concurrency?: number;
}

export interface RefreshStats {
  /** Objects whose age was asked for. */
  readonly checked: number;
  /** Objects copied onto themselves. */
  readonly renewed: number;
  /** Uses not queued because the queue was full. */
  readonly dropped: number;
  /** Checks or copies that failed (asked again after RETRY_MS). */
  readonly failed: number;
}

/** Keys waiting to be checked; more uses than this are dropped until the queue drains. */
const MAX_QUEUED = 10_000;
/** Keys whose next check time is remembered; the oldest are forgotten beyond it. */
const MAX_REMEMBERED = 200_000;
/** When an object was absent or a request failed: the next use looks again after this long. */
const RETRY_MS = 10 * 60_000;

export class ObjectRefresher {
  readonly #o: ObjectRefresherOptions;
  /** keyString → the earliest time a use may check the key again (epoch ms). */
  readonly #due = new Map<string, number>();
  readonly #queue = new Map<string, Key>();
  #running = 0;
  #closed = false;
  #idle: Promise<void> = Promise.resolve();
  #wakeIdle: (() => void) | undefined;
  #checked = 0;
  #renewed = 0;
  #dropped = 0;
  #failed = 0;

  constructor(options: ObjectRefresherOptions) {
    this.#o = options;
  }

  used(keys: readonly Key[]): void {
    if (this.#closed) return;
    const now = Date.now();
    for (const key of keys) {
      const id = keyString(key);
      if ((this.#due.get(id) ?? 0) > now || this.#queue.has(id)) continue;
      if (this.#queue.size >= MAX_QUEUED) {
        this.#dropped++;
        continue;
      }
      // Not checked again while queued or in flight; the check sets the real time.
      this.#remember(id, now + RETRY_MS);
      this.#queue.set(id, key);
    }
    this.#pump();
  }

  stats(): RefreshStats {
    return { checked: this.#checked, renewed: this.#renewed, dropped: this.#dropped, failed: this.#failed };
  }

  /** Resolves once nothing is queued or in flight (for tests and close). */
  idle(): Promise<void> {
    return this.#idle;
  }

  /** Drops what is queued and waits for the requests in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.clear();
    await this.#idle;
  }

  #pump(): void {
    while (this.#running < (this.#o.concurrency ?? 2) && this.#queue.size > 0) {
      const [id, key] = this.#queue.entries().next().value!;
      this.#queue.delete(id);
      if (this.#wakeIdle === undefined) this.#idle = new Promise((resolve) => (this.#wakeIdle = resolve));
      this.#running++;
      void this.#refresh(id, key).finally(() => {
        this.#running--;
        this.#pump();
        if (this.#running === 0) {
          this.#wakeIdle?.();
          this.#wakeIdle = undefined;
        }
      });
    }
  }

  async #refresh(id: string, key: Key): Promise<void> {
    const { target, refreshAfterMs } = this.#o;
    try {
      const lastModified = await target.lastModified(key);
      this.#checked++;
      const now = Date.now();
      if (lastModified === null) return this.#remember(id, now + RETRY_MS);
      if (now - lastModified < refreshAfterMs) return this.#remember(id, lastModified + refreshAfterMs);
      await target.renew(key);
      this.#renewed++;
      this.#remember(id, Date.now() + refreshAfterMs);
    } catch {
      this.#failed++;
      this.#remember(id, Date.now() + RETRY_MS);
    }
  }

  #remember(id: string, due: number): void {
    this.#due.delete(id); // re-inserted as the newest
    this.#due.set(id, due);
    if (this.#due.size > MAX_REMEMBERED) this.#due.delete(this.#due.keys().next().value!);
  }
}
