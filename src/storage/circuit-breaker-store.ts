// Reads of a tier that may misbehave (a bucket: unreachable, slow, 503 SlowDown, wrong
// credentials) answered within a deadline, and not at all while the tier keeps failing, so
// a build sees misses instead of hangs or errors. A read that fails or overruns its
// deadline is a miss (counted in `errors`); after FAILURES_TO_OPEN failures in a row the
// breaker opens and every read is a miss at once, without asking the tier; after a pause
// (doubling while failures go on, up to MAX_OPEN_MS) one read is let through as a probe,
// and a success closes it again (as does any request the uploader got through,
// `answeredElsewhere`). Writes and deletes pass through untouched: the
// write-behind queue retries them (write-behind/), and a write-through put should fail
// loudly rather than be dropped.
//
// A miss is the safe answer for a cache: `has` false never claims an entry that cannot be
// served (rule 1), and the build recomputes what it would have fetched.
import { toHoardError } from '../core/errors.ts';
import type { Key } from '../core/keys.ts';
import type { Body, Entry, PutOptions, PutOutcome, ReadOptions, Store, StoreUsage } from './store.ts';
import { isCallerError } from './tier.ts';

export interface CircuitBreakerOptions {
  /** Longest a read may take before it counts as a failure and answers a miss (default 5 s). */
  readonly deadlineMs?: number;
  /** Failures in a row that open the breaker (default 5). */
  readonly failuresToOpen?: number;
  /** First pause while open (default 2 s), doubled after each failed probe up to MAX_OPEN_MS. */
  readonly openMs?: number;
  /** Told when the breaker opens or closes. */
  readonly onStateChange?: (state: 'open' | 'closed', lastError: string | undefined) => void;
}

const MAX_OPEN_MS = 60_000;

class DeadlineExceeded extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

export class CircuitBreakerStore implements Store {
  readonly #inner: Store;
  readonly #deadlineMs: number;
  readonly #failuresToOpen: number;
  readonly #baseOpenMs: number;
  readonly #onStateChange: CircuitBreakerOptions['onStateChange'];
  #failuresInRow = 0;
  #errors = 0;
  /** While open: until when no read is tried (epoch ms). */
  #openUntil = 0;
  #openMs: number;
  #open = false;
  #probing = false;
  #lastError: string | undefined;

  constructor(inner: Store, options: CircuitBreakerOptions = {}) {
    this.#inner = inner;
    this.#deadlineMs = options.deadlineMs ?? 5000;
    this.#failuresToOpen = options.failuresToOpen ?? 5;
    this.#baseOpenMs = options.openMs ?? 2000;
    this.#openMs = this.#baseOpenMs;
    this.#onStateChange = options.onStateChange;
    const refresh = inner.refresh?.bind(inner);
    if (refresh !== undefined) {
      this.refresh = (keys) => {
        if (!this.#open) refresh(keys);
      };
    }
  }

  /** True while reads are answered as misses without asking the tier. */
  get isOpen(): boolean {
    return this.#open;
  }

  /**
   * The tier answered a request made beside the breaker (the uploader's): it is reachable
   * again, so an open breaker closes without waiting for a read to probe it. Otherwise a
   * server whose bucket came back, and that reads nothing from it, would report it down.
   */
  answeredElsewhere(): void {
    if (!this.#probing) this.#succeeded();
  }

  has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    return this.#read(
      () => this.#inner.has(keys, sizes),
      () => keys.map(() => false),
    );
  }

  stat(key: Key): Promise<number | undefined> {
    return this.#read(
      () => this.#inner.stat(key),
      () => undefined,
    );
  }

  get(key: Key, options?: ReadOptions): Promise<Entry | undefined> {
    return this.#read(
      () => this.#inner.get(key, options),
      () => undefined,
      (late) => late?.stream.destroy(),
    );
  }

  getBytes(key: Key, options?: { readonly signal?: AbortSignal }): Promise<Buffer | undefined> {
    return this.#read(
      () => this.#inner.getBytes(key, options),
      () => undefined,
    );
  }

  put(key: Key, body: Body, options?: PutOptions): Promise<PutOutcome> {
    return this.#inner.put(key, body, options);
  }

  delete(key: Key): Promise<boolean> {
    return this.#inner.delete(key);
  }

  /** Passed on unless the breaker is open (a renewal would fail too); absent when the tier has none. */
  readonly refresh?: (keys: readonly Key[]) => void;

  usage(): StoreUsage {
    const usage = this.#inner.usage();
    return { ...usage, health: { errors: this.#errors, available: !this.#open, lastError: this.#lastError } };
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /**
   * `work()` within the deadline, or `miss()` when the breaker is open, the tier fails, or
   * the deadline passes (`discard` then gets what `work` produces late).
   */
  async #read<T>(work: () => Promise<T>, miss: () => T, discard?: (late: T) => void): Promise<T> {
    if (this.#open) {
      if (Date.now() < this.#openUntil || this.#probing) return miss();
      this.#probing = true;
    }
    let timer: NodeJS.Timeout | undefined;
    const running = work();
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineExceeded(this.#deadlineMs)), this.#deadlineMs);
      });
      const value = await Promise.race([running, deadline]);
      this.#succeeded();
      return value;
    } catch (err) {
      if (err instanceof DeadlineExceeded) {
        void running.then(
          (late) => discard?.(late),
          () => undefined,
        );
      } else if (isCallerError(toHoardError(err).code)) {
        // The caller's own error: passed on, not counted against the tier.
        this.#probing = false;
        throw err;
      }
      this.#failed(err);
      return miss();
    } finally {
      clearTimeout(timer);
    }
  }

  #succeeded(): void {
    this.#failuresInRow = 0;
    this.#probing = false;
    if (this.#open) {
      this.#open = false;
      this.#openMs = this.#baseOpenMs;
      this.#onStateChange?.('closed', undefined);
    }
  }

  #failed(err: unknown): void {
    this.#errors++;
    this.#failuresInRow++;
    this.#lastError = err instanceof DeadlineExceeded ? err.message : toHoardError(err).message;
    if (this.#open) {
      // A failed probe: stay open, longer.
      this.#probing = false;
      this.#openMs = Math.min(MAX_OPEN_MS, this.#openMs * 2);
      this.#openUntil = Date.now() + this.#openMs;
    } else if (this.#failuresInRow >= this.#failuresToOpen) {
      this.#open = true;
      this.#openUntil = Date.now() + this.#openMs;
      this.#onStateChange?.('open', this.#lastError);
    }
  }
}
