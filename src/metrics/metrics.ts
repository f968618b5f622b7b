// The server's Prometheus metrics, one registry per running server (tests start many
// servers in one process, so nothing is registered globally). Frontends record through
// the small methods below; they memoise label children so the hot path does one Map
// lookup and an add, not prom-client's label hashing per request.
import {
  AggregatorRegistry,
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import type { Protocol } from '../core/call.ts';
import type { Key } from '../core/keys.ts';
import { ActivityRecorder, type Activity, type SlowRequest } from './activity.ts';
import type { NamespaceUsage, StoreUsage, TierUsage } from '../storage/store.ts';
import { tiersOf } from '../storage/tier.ts';

/** The wire protocol a metric is about: the closed union of src/core/call.ts. */
export type { Protocol } from '../core/call.ts';
export type LookupResult = 'hit' | 'miss';
export type { Activity, LookupCounts, LookupTotals, SlowRequest } from './activity.ts';

/** Anything that can report store usage; a Store fits. */
export interface UsageSource {
  usage(): StoreUsage;
}

export interface Metrics {
  /** Content type of `render()`'s text, for the /metrics response. */
  readonly contentType: string;
  /** One finished request: counts it by status and records its duration. */
  request(protocol: Protocol, method: string, code: string | number, seconds: number): void;
  /** One finished request that may be among the slowest; `describe` runs only when it is. */
  finished(protocol: Protocol, seconds: number, describe: () => SlowRequest): void;
  /** One cache lookup of `key`'s keyspace and namespace answered as a hit or a miss. */
  lookup(protocol: Protocol, key: Pick<Key, 'keyspace' | 'namespace'>, result: LookupResult): void;
  /**
   * A hit or miss a client reports of its own cache use (Turborepo's events), local cache
   * included: what the build saw, beside what the server answered.
   */
  clientReported(protocol: Protocol, source: 'local' | 'remote', result: LookupResult): void;
  bytesReceived(protocol: Protocol, bytes: number): void;
  bytesSent(protocol: Protocol, bytes: number): void;
  /** A failed request, by HoardError code or another short stable cause. */
  error(protocol: Protocol, cause: string): void;
  /** Store gauges are read from `source.usage()`, per tier, at scrape time; the last source wins. */
  observeStore(source: UsageSource): void;
  /** This thread's traffic so far, for /status and the status page. */
  activity(): Activity;
  render(): Promise<string>;
  /** Every series as data, to merge with other threads' (renderMerged). */
  snapshot(): Promise<MetricsSnapshot>;
}

/** One registry's series and its thread's activity, as plain data that crosses threads. */
export interface MetricsSnapshot {
  readonly series: MetricObjectWithValues<MetricValue<string>>[];
  readonly activity: Activity;
}

/**
 * Several registries' series as one Prometheus text: counters and histograms add up; a
 * gauge is reported by one registry only (the store's by the store thread), so a sum is it.
 * prom-client drops the series it marks 'omit' (process start time) when aggregating; only
 * the main thread reports process figures, so its value is the one to keep.
 */
export function renderMerged(snapshots: readonly MetricsSnapshot[]): Promise<string> {
  return AggregatorRegistry.aggregate(
    snapshots.map((s) => s.series.map((m) => (m.aggregator === 'omit' ? { ...m, aggregator: 'first' as const } : m))),
  ).metrics();
}

export interface MetricsOptions {
  /** Also export Node's process metrics (CPU, memory, event-loop lag). Default true. */
  readonly processMetrics?: boolean;
}

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface Inc {
  inc(value?: number): void;
}
interface Observe {
  observe(value: number): void;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'hoard_' });

  const requests = new Counter({
    name: 'hoard_requests_total',
    help: 'Requests answered, by protocol, method and status code',
    labelNames: ['protocol', 'method', 'code'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'hoard_request_duration_seconds',
    help: 'Time from request start to the last response byte',
    labelNames: ['protocol', 'method'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  });
  const lookups = new Counter({
    name: 'hoard_cache_lookups_total',
    help: 'Cache lookups by protocol, keyspace and result (hit|miss)',
    labelNames: ['protocol', 'keyspace', 'result'] as const,
    registers,
  });
  const reported = new Counter({
    name: 'hoard_client_reported_lookups_total',
    help: "Cache hits and misses clients report of their own runs (Turborepo's events), by source (local|remote)",
    labelNames: ['protocol', 'source', 'result'] as const,
    registers,
  });
  const received = new Counter({
    name: 'hoard_bytes_received_total',
    help: 'Body bytes received from clients',
    labelNames: ['protocol'] as const,
    registers,
  });
  const sent = new Counter({
    name: 'hoard_bytes_sent_total',
    help: 'Body bytes sent to clients',
    labelNames: ['protocol'] as const,
    registers,
  });
  const errors = new Counter({
    name: 'hoard_errors_total',
    help: 'Failed requests by protocol and cause (a stable error code)',
    labelNames: ['protocol', 'cause'] as const,
    registers,
  });

  // Every store gauge is per tier: `tier` is the tier's name ('disk'; a store with no named
  // tiers is one tier, 'store'), and the front tier's series are the stack's own figures.
  // A gauge a tier does not report (errors, pending) has no series for it.
  let source: UsageSource | undefined;
  const storeGauge = (name: string, help: string, pick: (t: TierUsage) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['tier'] as const,
      registers,
      collect() {
        this.reset();
        if (!source) return;
        for (const tier of tiersOf(source.usage())) {
          const value = pick(tier);
          if (value !== undefined) this.set({ tier: tier.name }, value);
        }
      },
    });
  };
  storeGauge('hoard_store_bytes', 'Bytes the tier uses on its medium', (t) => t.bytes);
  storeGauge('hoard_store_max_bytes', "The tier's configured size bound (0 = unbounded)", (t) => t.maxBytes);
  storeGauge(
    'hoard_store_effective_max_bytes',
    'The bound the tier works to now: the configured one, or less once the disk refused a write for lack of space',
    (t) => t.effectiveMaxBytes,
  );
  storeGauge('hoard_store_entries', 'Entries in the tier', (t) => t.entries);
  storeGauge('hoard_store_evictions', 'Entries the tier evicted since it was opened', (t) => t.evictions);
  storeGauge('hoard_store_errors', 'Failed reads or writes against the tier since it was opened', (t) => t.errors);
  storeGauge('hoard_store_pending', 'Writes accepted for the tier and not yet in it', (t) => t.pending);
  storeGauge(
    'hoard_store_available',
    'Whether the tier is asked at all: 0 while its circuit breaker answers misses without asking it',
    (t) => (t.available === undefined ? undefined : t.available ? 1 : 0),
  );

  // Per namespace: the store's bounded list (StoreUsage.namespaces), so the `namespace`
  // label has at most that many values however many namespaces there are. '' is the default.
  const namespaceGauge = (name: string, help: string, pick: (n: NamespaceUsage) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['namespace'] as const,
      registers,
      collect() {
        this.reset();
        for (const n of source?.usage().namespaces ?? []) {
          const value = pick(n);
          if (value !== undefined) this.set({ namespace: n.namespace }, value);
        }
      },
    });
  };
  namespaceGauge(
    'hoard_namespace_bytes',
    'Bytes of the entries of the namespace (largest and fullest listed)',
    (n) => n.bytes,
  );
  namespaceGauge('hoard_namespace_entries', 'Entries in the namespace', (n) => n.entries);
  namespaceGauge('hoard_namespace_quota_bytes', "The namespace's byte quota, when it has one", (n) => n.quotaBytes);

  // Label children, memoised by their joined label values.
  const children = new Map<string, Inc | Observe>();
  const child = <T extends Inc | Observe>(id: string, make: () => T): T => {
    let c = children.get(id) as T | undefined;
    if (c === undefined) {
      c = make();
      children.set(id, c);
    }
    return c;
  };
  const activity = new ActivityRecorder();

  return {
    contentType: registry.contentType,
    request(protocol, method, code, seconds) {
      const status = String(code);
      child<Inc>(`r\0${protocol}\0${method}\0${status}`, () => requests.labels(protocol, method, status)).inc();
      child<Observe>(`d\0${protocol}\0${method}`, () => duration.labels(protocol, method)).observe(seconds);
      activity.request(protocol);
    },
    finished(protocol, seconds, describe) {
      activity.finished(protocol, seconds, describe);
    },
    lookup(protocol, { keyspace, namespace }, result) {
      activity.lookup(protocol, namespace, result === 'hit');
      child<Inc>(`l\0${protocol}\0${keyspace}\0${result}`, () => lookups.labels(protocol, keyspace, result)).inc();
    },
    clientReported(protocol, source, result) {
      child<Inc>(`c\0${protocol}\0${source}\0${result}`, () => reported.labels(protocol, source, result)).inc();
    },
    bytesReceived(protocol, bytes) {
      if (bytes <= 0) return;
      child<Inc>(`i\0${protocol}`, () => received.labels(protocol)).inc(bytes);
      activity.bytesReceived(bytes);
    },
    bytesSent(protocol, bytes) {
      if (bytes <= 0) return;
      child<Inc>(`o\0${protocol}`, () => sent.labels(protocol)).inc(bytes);
      activity.bytesSent(bytes);
    },
    error(protocol, cause) {
      child<Inc>(`e\0${protocol}\0${cause}`, () => errors.labels(protocol, cause)).inc();
      activity.error(protocol, cause);
    },
    observeStore(s) {
      source = s;
    },
    activity() {
      return activity.snapshot();
    },
    render() {
      return registry.metrics();
    },
    async snapshot() {
      return {
        series: await registry.getMetricsAsJSON(),
        activity: activity.snapshot(),
      };
    },
  };
}
