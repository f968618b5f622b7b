// A server's traffic as plain numbers that cross threads, for /status and the status page:
// lookups in all, per protocol and per namespace; requests and body bytes; failures by
// cause; the slowest requests of the last hour. Each request thread keeps its own record
// (ActivityRecorder); /status sums every thread's (sumActivity). The Prometheus series carry
// the same counts with more labels; these exist so that /status needs no text parsing.
import type { Protocol } from '../core/call.ts';

/** Hits and misses: a thread's, or the sum of every thread's. */
export interface LookupCounts {
  readonly hits: number;
  readonly misses: number;
}

/** Lookups in all, per protocol and per namespace (only those that answered one). */
export interface LookupTotals extends LookupCounts {
  readonly protocols: Readonly<Partial<Record<Protocol, LookupCounts>>>;
  /**
   * Keyed by namespace ('' is the default). A thread names at most MAX_NAMESPACES; lookups
   * of any other namespace are counted under OTHER_NAMESPACES, so a server with millions of
   * Turborepo teams keeps a bounded record.
   */
  readonly namespaces: Readonly<Record<string, LookupCounts>>;
}

/** One request among the slowest of the last hour (operator endpoints are not listed). */
export interface SlowRequest {
  /** Epoch milliseconds when its answer finished. */
  readonly at: number;
  readonly protocol: Protocol;
  /** The HTTP method or gRPC method name. */
  readonly method: string;
  /** The request path without its query (a query may carry a client's token), cut at 200 characters. */
  readonly path: string;
  readonly namespace: string | undefined;
  /** What the client was told: an HTTP status, a gRPC status name, or 'aborted'. */
  readonly status: number | string;
  readonly seconds: number;
  /** Body bytes of the answer, when known. */
  readonly bytes: number | undefined;
}

/** A failure cause and how often it was counted. */
export interface ErrorCount {
  readonly protocol: Protocol;
  readonly cause: string;
  readonly count: number;
}

export interface Activity {
  readonly lookups: LookupTotals;
  /** Requests answered, operator endpoints (/status, /metrics, the status page) not counted. */
  readonly requests: number;
  readonly bytesReceived: number;
  readonly bytesSent: number;
  /** Failed requests by protocol and cause, most frequent first. */
  readonly errors: readonly ErrorCount[];
  /** Slowest first; at most SLOWEST_KEPT, none older than SLOWEST_WINDOW_MS. */
  readonly slowest: readonly SlowRequest[];
}

export const MAX_NAMESPACES = 100;
export const OTHER_NAMESPACES = '(other namespaces)';
export const SLOWEST_KEPT = 10;
export const SLOWEST_WINDOW_MS = 60 * 60 * 1000;
const MAX_PATH_CHARS = 200;

/** The protocol of the operator endpoints, which the traffic figures leave out. */
const OPERATOR: Protocol = 'admin';

/** One thread's record. Every method is a few field updates: it runs on every request. */
export class ActivityRecorder {
  #hits = 0;
  #misses = 0;
  readonly #protocols: Partial<Record<Protocol, { hits: number; misses: number }>> = {};
  readonly #namespaces = new Map<string, { hits: number; misses: number }>();
  #requests = 0;
  #bytesReceived = 0;
  #bytesSent = 0;
  readonly #errors = new Map<string, ErrorCount & { count: number }>();
  /** Slowest first. */
  #slowest: SlowRequest[] = [];
  /** When the oldest of #slowest finished (Infinity when none): once it expires, there is room. */
  #oldestAt = Infinity;

  lookup(protocol: Protocol, namespace: string, hit: boolean): void {
    const forProtocol = (this.#protocols[protocol] ??= { hits: 0, misses: 0 });
    let forNamespace = this.#namespaces.get(namespace);
    if (forNamespace === undefined) {
      const name = this.#namespaces.size < MAX_NAMESPACES ? namespace : OTHER_NAMESPACES;
      forNamespace = this.#namespaces.get(name) ?? { hits: 0, misses: 0 };
      this.#namespaces.set(name, forNamespace);
    }
    if (hit) {
      this.#hits++;
      forProtocol.hits++;
      forNamespace.hits++;
    } else {
      this.#misses++;
      forProtocol.misses++;
      forNamespace.misses++;
    }
  }

  request(protocol: Protocol): void {
    if (protocol !== OPERATOR) this.#requests++;
  }

  bytesReceived(bytes: number): void {
    this.#bytesReceived += bytes;
  }

  bytesSent(bytes: number): void {
    this.#bytesSent += bytes;
  }

  error(protocol: Protocol, cause: string): void {
    const id = `${protocol}\0${cause}`;
    const known = this.#errors.get(id);
    if (known === undefined) this.#errors.set(id, { protocol, cause, count: 1 });
    else known.count++;
  }

  /**
   * A finished request that may be among the slowest; `describe` runs only when it is, so
   * the common case costs two comparisons.
   */
  finished(protocol: Protocol, seconds: number, describe: () => SlowRequest): void {
    if (protocol === OPERATOR) return;
    const kept = this.#slowest;
    const now = Date.now();
    // Full of slower ones: only an expired entry makes room.
    if (
      kept.length === SLOWEST_KEPT &&
      seconds <= kept[kept.length - 1]!.seconds &&
      this.#oldestAt >= now - SLOWEST_WINDOW_MS
    ) {
      return;
    }
    this.#slowest = slowestOf([...kept, describe()], now);
    this.#oldestAt = Math.min(...this.#slowest.map((r) => r.at));
  }

  snapshot(): Activity {
    const namespaces: Record<string, LookupCounts> = {};
    for (const [name, counts] of this.#namespaces) namespaces[name] = { ...counts };
    return {
      lookups: { hits: this.#hits, misses: this.#misses, protocols: structuredClone(this.#protocols), namespaces },
      requests: this.#requests,
      bytesReceived: this.#bytesReceived,
      bytesSent: this.#bytesSent,
      errors: sortedErrors([...this.#errors.values()].map((e) => ({ ...e }))),
      slowest: slowestOf(this.#slowest, Date.now()),
    };
  }
}

/** The path of a request target, without its query, cut to a length fit for a table. */
export function displayPath(target: string): string {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return path.length > MAX_PATH_CHARS ? `${path.slice(0, MAX_PATH_CHARS - 1)}…` : path;
}

/** Several threads' records as one: counts add up, the slowest are the slowest of all. */
export function sumActivity(all: readonly Activity[]): Activity {
  let hits = 0;
  let misses = 0;
  let requests = 0;
  let bytesReceived = 0;
  let bytesSent = 0;
  const protocols: Partial<Record<Protocol, { hits: number; misses: number }>> = {};
  const namespaces: Record<string, { hits: number; misses: number }> = {};
  const errors = new Map<string, { protocol: Protocol; cause: string; count: number }>();
  const slowest: SlowRequest[] = [];
  const add = (to: { hits: number; misses: number }, from: LookupCounts): void => {
    to.hits += from.hits;
    to.misses += from.misses;
  };
  for (const a of all) {
    hits += a.lookups.hits;
    misses += a.lookups.misses;
    for (const [p, counts] of Object.entries(a.lookups.protocols) as [Protocol, LookupCounts][]) {
      add((protocols[p] ??= { hits: 0, misses: 0 }), counts);
    }
    for (const [n, counts] of Object.entries(a.lookups.namespaces))
      add((namespaces[n] ??= { hits: 0, misses: 0 }), counts);
    requests += a.requests;
    bytesReceived += a.bytesReceived;
    bytesSent += a.bytesSent;
    for (const e of a.errors) {
      const id = `${e.protocol}\0${e.cause}`;
      const sum = errors.get(id);
      if (sum === undefined) errors.set(id, { ...e });
      else sum.count += e.count;
    }
    slowest.push(...a.slowest);
  }
  return {
    lookups: { hits, misses, protocols, namespaces },
    requests,
    bytesReceived,
    bytesSent,
    errors: sortedErrors([...errors.values()]),
    slowest: slowestOf(slowest, Date.now()),
  };
}

function slowestOf(requests: readonly SlowRequest[], now: number): SlowRequest[] {
  return requests
    .filter((r) => r.at >= now - SLOWEST_WINDOW_MS)
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, SLOWEST_KEPT);
}

function sortedErrors<T extends ErrorCount>(errors: T[]): T[] {
  return errors.sort((a, b) => b.count - a.count || a.cause.localeCompare(b.cause));
}
