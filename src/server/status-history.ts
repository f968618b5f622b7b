// The last hour of /status, sampled every few seconds on the main thread, for the status
// page's charts: each sample holds the running totals (lookups, requests, bytes, failures)
// and the store's gauges at that moment; the page draws rates from the differences between
// neighbours. Held in memory only: a restarted server starts a new hour (its counters start
// again from zero too).
import type { StatusDocument } from './status-document.ts';

/** Hits and misses as a pair, to keep an hour of samples small. */
export type CountPair = readonly [hits: number, misses: number];

export interface StatusSample {
  /** Epoch milliseconds. */
  readonly t: number;
  readonly hits: number;
  readonly misses: number;
  readonly protocols: Readonly<Record<string, CountPair>>;
  /** The namespaces /status lists at that moment (the most looked-up). */
  readonly namespaces: Readonly<Record<string, CountPair>>;
  readonly requests: number;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly errors: number;
  readonly storeBytes: number;
  /** The bound the store works to (0: unbounded). */
  readonly storeBound: number;
  readonly entries: number;
  readonly evictions: number;
}

export interface HistoryDocument {
  readonly intervalSeconds: number;
  readonly windowSeconds: number;
  /** Oldest first; the last one is the moment of the answer. */
  readonly samples: readonly StatusSample[];
}

export const SAMPLE_INTERVAL_MS = 10_000;
export const HISTORY_WINDOW_MS = 60 * 60 * 1000;

export function sampleOf(doc: StatusDocument, t = Date.now()): StatusSample {
  const pair = (c: { hits: number; misses: number }): CountPair => [c.hits, c.misses];
  return {
    t,
    hits: doc.lookups.hits,
    misses: doc.lookups.misses,
    protocols: Object.fromEntries(Object.entries(doc.lookups.protocols).map(([p, c]) => [p, pair(c)])),
    namespaces: Object.fromEntries(doc.lookups.namespaces.map((n) => [n.namespace, pair(n)])),
    requests: doc.traffic.requests,
    bytesReceived: doc.traffic.bytesReceived,
    bytesSent: doc.traffic.bytesSent,
    errors: doc.errors.total,
    storeBytes: doc.store.bytes,
    storeBound: doc.store.effectiveMaxBytes,
    entries: doc.store.entries,
    evictions: doc.store.evictions,
  };
}

export class StatusHistory {
  readonly #current: () => Promise<StatusDocument>;
  readonly #intervalMs: number;
  readonly #windowMs: number;
  #samples: StatusSample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;

  /** `current` reads the /status document as it is now. */
  constructor(current: () => Promise<StatusDocument>, intervalMs = SAMPLE_INTERVAL_MS, windowMs = HISTORY_WINDOW_MS) {
    this.#current = current;
    this.#intervalMs = intervalMs;
    this.#windowMs = windowMs;
  }

  /** Takes a first sample now, then one every interval, until stop(). */
  start(): void {
    if (this.#timer !== undefined) return;
    void this.#sample();
    this.#timer = setInterval(() => void this.#sample(), this.#intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The /status document now, with the last hour's samples when `withHistory`. */
  async document(withHistory: boolean): Promise<StatusDocument> {
    const doc = await this.#current();
    if (!withHistory) return doc;
    return {
      ...doc,
      history: {
        intervalSeconds: this.#intervalMs / 1000,
        windowSeconds: this.#windowMs / 1000,
        samples: [...this.#samples, sampleOf(doc)],
      },
    };
  }

  /** Keeps `sample` and drops what fell out of the window. */
  add(sample: StatusSample): void {
    this.#samples.push(sample);
    const from = sample.t - this.#windowMs;
    const old = this.#samples.findIndex((s) => s.t >= from);
    if (old > 0) this.#samples = this.#samples.slice(old);
  }

  async #sample(): Promise<void> {
    // A slow answer (a request thread busy for seconds) must not pile samples up.
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      this.add(sampleOf(await this.#current()));
    } catch {
      // A sample that could not be read is a gap in the charts, nothing worse.
    } finally {
      this.#sampling = false;
    }
  }
}
