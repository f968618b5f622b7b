// Two tiers as one store: a fast tier in front of a slow one (the disk in front of a
// bucket). It owns both and closes both.
//
// Reads: the fast tier answers first. A miss there is read from the slow tier and streamed
// to the caller while the same bytes fill the fast tier (filling-read.ts): counted and, for
// CAS, hashed on the way, so the caller never gets wrong or short bytes presented as
// whole, and nothing partial or unverified lands in the fast tier (rule 1). Concurrent
// misses of one key read the slow tier once: the first caller leads, the others wait for
// its fill and then read the fast tier. A follower therefore gets its first byte when the
// leader's fill has settled, and the leader's read moves at its caller's pace.
//
// Range reads (offset or limit) that miss the fast tier are served by the slow tier
// directly and fill nothing: a range cannot be hashed, and filling would mean reading the
// whole entry before the first byte of the range. A whole read fills; ranged reads are
// resumptions and partial reads, and the whole read that follows a miss pays once.
//
// `has` and `stat` ask the fast tier, then the slow tier for the rest: true only for
// entries a following get can serve from one tier or the other.
//
// Writes are write-through: the put goes into the fast tier (verified, durable, as its own
// put makes it), then the entry is copied from the fast tier into the slow one, and the put
// resolves once both have it. A failed copy fails the put; the fast tier keeps its whole,
// verified copy, and a repeated put finds it there and redoes only the copy. Write-behind is
// the other mode: with a WriteBehind (write-behind/write-behind.ts), a put resolves once the fast tier
// has the entry and its key is durable in the upload queue, and the uploader copies it later.
//
// Deletes go to the slow tier, then the fast one, so a concurrent miss does not refill an
// entry from a slow tier that still has it. A fill already reading may land afterwards.
//
// usage(): the top-level figures are the fast tier's; `tiers` lists both (a tier that is
// itself composed contributes its own tiers), with the errors seen on each.
import { hashBytes } from '../core/digest.ts';
import { ErrorCode, HoardError, toHoardError } from '../core/errors.ts';
import { keyString, type Key } from '../core/keys.ts';
import { fillingRead, type FillOutcome } from './filling-read.ts';
import { InFlight } from './in-flight.ts';
import type { Body, Entry, PutOptions, PutOutcome, ReadOptions, Store, StoreUsage, TierUsage } from './store.ts';
import { isCallerError, tiersOf, type Tier } from './tier.ts';
import type { WriteBehind } from './write-behind/write-behind.ts';

export class ReadThroughStore implements Store {
  readonly #fast: Tier;
  readonly #slow: Tier;
  /** Fills in flight by key: what followers of a miss wait for. */
  readonly #fills = new Map<string, Promise<FillOutcome>>();
  /** Copies into the slow tier in flight by key, so racing puts of one blob copy it once. */
  readonly #copies = new Map<string, Promise<void>>();
  readonly #work = new InFlight();
  /** Fired by close(): cuts the fills still streaming, so close() does not wait on readers. */
  readonly #closing = new AbortController();
  readonly #writeBehind: WriteBehind | undefined;
  #fastErrors = 0;
  #slowErrors = 0;

  /** With `writeBehind`, puts reach the slow tier through its queue (it is closed with this store). */
  constructor(fast: Tier, slow: Tier, options: { readonly writeBehind?: WriteBehind } = {}) {
    this.#fast = fast;
    this.#slow = slow;
    this.#writeBehind = options.writeBehind;
  }

  async has(keys: readonly Key[], sizes?: readonly number[]): Promise<boolean[]> {
    const present = await this.#fast.store.has(keys, sizes);
    const rest: number[] = [];
    for (let i = 0; i < present.length; i++) if (!present[i]) rest.push(i);
    if (rest.length > 0) {
      const inSlow = await this.#onSlow(
        this.#slow.store.has(
          rest.map((i) => keys[i]!),
          sizes && rest.map((i) => sizes[i]!),
        ),
      );
      rest.forEach((i, j) => (present[i] = inSlow[j]!));
    }
    // A build relies on what it was told is present (it does not upload it again).
    if (this.#slow.store.refresh !== undefined) this.#used(keys.filter((_, i) => present[i]));
    return present;
  }

  /** Passed on to both tiers: the slow one may renew what the fast one answers. */
  refresh(keys: readonly Key[]): void {
    this.#fast.store.refresh?.(keys);
    this.#slow.store.refresh?.(keys);
  }

  /** Entries this store answered for, whichever tier had them: the slow tier may renew them. */
  #used(keys: readonly Key[]): void {
    if (keys.length > 0) this.#slow.store.refresh?.(keys);
  }

  async stat(key: Key): Promise<number | undefined> {
    return (await this.#fast.store.stat(key)) ?? this.#onSlow(this.#slow.store.stat(key));
  }

  async get(key: Key, options: ReadOptions = {}): Promise<Entry | undefined> {
    const entry = await this.#get(key, options);
    if (entry !== undefined) this.#used([key]);
    return entry;
  }

  async #get(key: Key, options: ReadOptions): Promise<Entry | undefined> {
    const hit = await this.#fast.store.get(key, options);
    if (hit !== undefined) return hit;
    if ((options.offset ?? 0) !== 0 || (options.limit ?? 0) !== 0) {
      return this.#onSlow(this.#slow.store.get(key, options));
    }
    return this.#afterMiss(
      key,
      options.signal,
      () => this.#leadGet(key, options.signal),
      () => this.#fast.store.get(key, options),
      () => this.#readSlow(key, options.signal, false),
    );
  }

  async getBytes(key: Key, options: { readonly signal?: AbortSignal } = {}): Promise<Buffer | undefined> {
    const entry = await this.#getBytes(key, options);
    if (entry !== undefined) this.#used([key]);
    return entry;
  }

  async #getBytes(key: Key, options: { readonly signal?: AbortSignal }): Promise<Buffer | undefined> {
    const hit = await this.#fast.store.getBytes(key, options);
    if (hit !== undefined) return hit;
    return this.#afterMiss(
      key,
      options.signal,
      () => this.#leadGetBytes(key, options.signal),
      () => this.#fast.store.getBytes(key, options),
      () => this.#readSlowBytes(key, options.signal),
    );
  }

  async put(key: Key, body: Body, options: PutOptions = {}): Promise<PutOutcome> {
    this.#checkOpen();
    return this.#work.track(this.#put(key, body, options));
  }

  async #put(key: Key, body: Body, options: PutOptions): Promise<PutOutcome> {
    const outcome = await this.#fast.store.put(key, body, options);
    if (this.#writeBehind !== undefined) {
      // Queued even when the fast tier had it: the uploader skips a blob the bucket has.
      const size = options.size ?? (await this.#fast.store.stat(key)) ?? 0;
      await this.#writeBehind.enqueue(key, size, options.signal);
      return outcome;
    }
    if (outcome === 'exists' && (await this.#onSlow(this.#slow.store.has([key], [options.size ?? 0])))[0]) {
      return outcome;
    }
    const id = keyString(key);
    // AC and raw values replace: each put copies its own value. A CAS blob is one value.
    let copy = key.keyspace === 'cas' ? this.#copies.get(id) : undefined;
    if (copy === undefined) {
      copy = this.#copyToSlow(key, options.signal);
      if (key.keyspace === 'cas') {
        const mine = copy;
        this.#copies.set(id, mine);
        void mine.then(
          () => this.#copies.delete(id),
          () => this.#copies.delete(id),
        );
      }
    }
    await copy;
    return outcome;
  }

  /** Streams the fast tier's entry into the slow tier. */
  async #copyToSlow(key: Key, signal: AbortSignal | undefined): Promise<void> {
    const entry = await this.#fast.store.get(key, { signal });
    // Evicted already (a fast tier smaller than the burst of puts): nothing to copy, and a
    // cache may lose an entry at any time.
    if (entry === undefined) return;
    await this.#onSlow(this.#slow.store.put(key, entry.stream, { size: entry.size, signal }));
  }

  async delete(key: Key): Promise<boolean> {
    const inSlow = await this.#onSlow(this.#slow.store.delete(key));
    const inFast = await this.#fast.store.delete(key);
    return inSlow || inFast;
  }

  usage(): StoreUsage {
    const front = this.#fast.store.usage();
    const tiers = [
      ...withErrors(tiersOf(front, this.#fast.name, this.#fast.kind), this.#fastErrors),
      ...withErrors(tiersOf(this.#slow.store.usage(), this.#slow.name, this.#slow.kind), this.#slowErrors).map(
        (t, i) => (i === 0 && this.#writeBehind !== undefined ? { ...t, pending: this.#writeBehind.pending } : t),
      ),
    ];
    const { bytes, maxBytes, effectiveMaxBytes, entries, evictions, namespaces } = front;
    return { bytes, maxBytes, effectiveMaxBytes, entries, evictions, namespaces, tiers };
  }

  /**
   * Refuses new puts, cuts fills still streaming (their readers get an error; the server
   * has drained its requests before it closes the store), waits for the puts, then closes
   * both tiers.
   */
  async close(): Promise<void> {
    this.#closing.abort(new HoardError(ErrorCode.Unavailable, 'the store is closing'));
    await this.#work.settled();
    await this.#writeBehind?.close();
    await Promise.all([this.#fast.store.close(), this.#slow.store.close()]);
  }

  // ---- misses -----------------------------------------------------------------------------

  /**
   * A fast-tier miss: leads a fill of `key` when none is in flight, else waits for the one
   * that is and reads the fast tier again. When that fill failed, the followers fail with
   * it; when the slow tier had no such entry, they miss too; when its caller went away, one of them leads anew; when the fast tier refused the
   * entry (or evicted it already), each reads the slow tier without filling.
   */
  async #afterMiss<T>(
    key: Key,
    signal: AbortSignal | undefined,
    lead: () => Promise<T | undefined>,
    fromFast: () => Promise<T | undefined>,
    fromSlow: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const id = keyString(key);
    for (;;) {
      const fill = this.#fills.get(id);
      if (fill === undefined) return lead();
      const outcome = await abortable(fill, signal);
      const hit = await fromFast();
      if (hit !== undefined) return hit;
      switch (outcome.state) {
        case 'failed':
          throw outcome.error;
        case 'absent':
          return undefined;
        case 'aborted':
          continue;
        case 'filled':
        case 'unfilled':
          return fromSlow();
      }
    }
  }

  /** Registers the fill of `key` before its first await, so followers find it. */
  #startFill(key: Key): (outcome: FillOutcome) => void {
    const id = keyString(key);
    let settle!: (outcome: FillOutcome) => void;
    const done = new Promise<FillOutcome>((resolve) => (settle = resolve));
    this.#fills.set(id, done);
    void this.#work.track(done).then(() => {
      if (this.#fills.get(id) === done) this.#fills.delete(id);
    });
    return settle;
  }

  async #leadGet(key: Key, signal: AbortSignal | undefined): Promise<Entry | undefined> {
    const settle = this.#startFill(key);
    try {
      const entry = await this.#readSlow(key, signal, true, settle);
      if (entry === undefined) settle({ state: 'absent' });
      return entry;
    } catch (err) {
      const error = toHoardError(err);
      settle(isCallerError(error.code) ? { state: 'aborted' } : { state: 'failed', error });
      throw error;
    }
  }

  /** A whole read from the slow tier, verified on the way, filling the fast tier or not. */
  async #readSlow(
    key: Key,
    signal: AbortSignal | undefined,
    fill: boolean,
    settle?: (outcome: FillOutcome) => void,
  ): Promise<Entry | undefined> {
    const source = await this.#onSlow(this.#slow.store.get(key, { signal }));
    if (source === undefined) return undefined;
    const { size } = source;
    const read = fillingRead({
      key,
      size,
      source: source.stream,
      tierName: this.#slow.name,
      fill: fill ? (body, bodySha256) => this.#fast.store.put(key, body, { size, bodySha256 }) : undefined,
      signal: signal === undefined ? this.#closing.signal : AbortSignal.any([signal, this.#closing.signal]),
    });
    void read.outcome.then((outcome) => {
      if (outcome.state === 'failed') this.#slowErrors++;
      if (outcome.state === 'unfilled' && outcome.error && !isCallerError(outcome.error.code)) this.#fastErrors++;
      settle?.(outcome);
    });
    return { size, stream: read.stream };
  }

  async #leadGetBytes(key: Key, signal: AbortSignal | undefined): Promise<Buffer | undefined> {
    const settle = this.#startFill(key);
    try {
      const data = await this.#readSlowBytes(key, signal);
      if (data === undefined) {
        settle({ state: 'absent' });
        return undefined;
      }
      try {
        await this.#fast.store.put(key, data, { size: data.byteLength });
        settle({ state: 'filled' });
      } catch (err) {
        const error = toHoardError(err);
        if (!isCallerError(error.code)) this.#fastErrors++;
        settle({ state: 'unfilled', error });
      }
      return data;
    } catch (err) {
      const error = toHoardError(err);
      settle(isCallerError(error.code) ? { state: 'aborted' } : { state: 'failed', error });
      throw error;
    }
  }

  /** The slow tier's whole entry in memory, its hash checked for CAS. */
  async #readSlowBytes(key: Key, signal: AbortSignal | undefined): Promise<Buffer | undefined> {
    const data = await this.#onSlow(this.#slow.store.getBytes(key, { signal }));
    if (data !== undefined && key.keyspace === 'cas' && hashBytes(data) !== key.id) {
      this.#slowErrors++;
      throw new HoardError(
        ErrorCode.Corrupt,
        `tier '${this.#slow.name}' returned bytes that do not hash to cas entry ${key.id}; nothing was cached`,
      );
    }
    return data;
  }

  /** Counts a slow-tier failure (not one of the caller's making) and passes it on. */
  async #onSlow<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      const error = toHoardError(err);
      if (!isCallerError(error.code)) this.#slowErrors++;
      throw error;
    }
  }

  #checkOpen(): void {
    if (this.#closing.signal.aborted) throw new HoardError(ErrorCode.Unavailable, 'the store is closed');
  }
}

function withErrors(tiers: readonly TierUsage[], errors: number): TierUsage[] {
  // A composed tier's errors belong to its front, the tier this store talks to.
  return tiers.map((t, i) => (i === 0 ? { ...t, errors: (t.errors ?? 0) + errors } : t));
}

/** `work`, or an Aborted error as soon as `signal` fires. */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () =>
      reject(new HoardError(ErrorCode.Aborted, 'the read was cancelled while it waited for a fill'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
