// The load generator behind `hoard bench`: small and large blob put/get and
// existence checks (FindMissingBlobs over gRPC, HEAD over HTTP) against any cache, through
// the client library. It shares the machine with the server under test, so it keeps its own
// CPU cost low: blobs are windows of ONE random buffer (no per-op allocation), every digest
// is computed before the timed phase, downloads are not re-hashed, and HTTP runs on an
// undici Pool with pipelining off (one request per connection, like Bazel).
import { randomBytes } from 'node:crypto';
import { digestOf, type Digest } from '../core/digest.ts';
import { createClient } from './create-client.ts';
import type { CacheClient, ClientOptions } from './types.ts';

export const SCENARIOS = ['put-small', 'get-small', 'has-small', 'put-large', 'get-large'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface BenchOptions {
  readonly server: string;
  readonly clientOptions?: ClientOptions;
  readonly scenarios?: readonly Scenario[];
  readonly concurrency?: number;
  /** Run each scenario this long (ms)... */
  readonly durationMs?: number;
  /** ...or exactly this many operations (wins over durationMs). */
  readonly count?: number;
  /** Large blob size (default 1 MiB). */
  readonly largeSize?: number;
  /** Small blob size (default 4 KiB). */
  readonly smallSize?: number;
  /** Digests per FindMissingBlobs call in has-small (gRPC; HTTP does one HEAD each). Default 100. */
  readonly batch?: number;
  readonly onResult?: (r: ScenarioResult) => void;
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly ops: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly seconds: number;
  readonly opsPerSec: number;
  readonly mbPerSec: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
}

export interface BenchReport {
  readonly server: string;
  readonly protocol: 'http' | 'grpc';
  readonly concurrency: number;
  readonly smallSize: number;
  readonly largeSize: number;
  readonly results: ScenarioResult[];
}

/** N distinct blobs of `size` bytes: overlapping windows of one buffer, 8 bytes apart. */
class BlobSet {
  readonly buffer: Buffer;
  readonly digests: Digest[];
  readonly size: number;
  constructor(n: number, size: number) {
    this.size = size;
    this.buffer = randomBytes(size + 8 * n);
    this.digests = Array.from({ length: n }, (_, i) => digestOf(this.bytes(i)));
  }
  bytes(i: number): Buffer {
    return this.buffer.subarray(i * 8, i * 8 + this.size);
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function drive(
  client: CacheClient,
  opts: Required<Pick<BenchOptions, 'concurrency' | 'durationMs'>> & { count?: number },
  op: (i: number) => Promise<number>,
  scenario: Scenario,
): Promise<ScenarioResult> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let bytes = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const deadline = t0 + opts.durationMs;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (opts.count !== undefined ? next < opts.count : performance.now() < deadline) {
        const i = next++;
        const s = performance.now();
        try {
          const n = await op(i); // not `bytes += await`: that reads `bytes` before the await
          bytes += n;
          latencies.push(performance.now() - s);
        } catch (err) {
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return {
    scenario,
    ops: latencies.length,
    errors,
    ...(firstError ? { firstError } : {}),
    seconds: r2(seconds),
    opsPerSec: r2(latencies.length / seconds),
    mbPerSec: r2(bytes / 1e6 / seconds),
    p50Ms: r2(percentile(sorted, 50)),
    p95Ms: r2(percentile(sorted, 95)),
    p99Ms: r2(percentile(sorted, 99)),
  };
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const concurrency = opts.concurrency ?? 16;
  const smallSize = opts.smallSize ?? 4096;
  const largeSize = opts.largeSize ?? 1024 * 1024;
  const durationMs = opts.durationMs ?? 5000;
  const scenarios = opts.scenarios ?? SCENARIOS;
  const batch = opts.batch ?? 100;
  // Pool sizes: one distinct blob per put when counting; when timing, enough for a fast
  // server (puts beyond the pool repeat blobs, which a cache may short-cut).
  const smallN = opts.count ?? 20_000;
  const largeN = opts.count ?? Math.max(16, Math.floor((256 * 1024 * 1024) / largeSize));
  const small = scenarios.some((s) => s.endsWith('-small')) ? new BlobSet(smallN, smallSize) : undefined;
  const large = scenarios.some((s) => s.endsWith('-large')) ? new BlobSet(largeN, largeSize) : undefined;
  const client = createClient(opts.server, { concurrency, ...opts.clientOptions });
  const run = { concurrency, durationMs, count: opts.count };
  const results: ScenarioResult[] = [];
  const uploaded = { small: 0, large: 0 };
  try {
    for (const scenario of scenarios) {
      const set = (scenario.endsWith('-small') ? small : large) as BlobSet;
      const kind = scenario.endsWith('-small') ? 'small' : 'large';
      if (!scenario.startsWith('put') && uploaded[kind] === 0) {
        // Reads need something to read: upload a slice of the set, untimed.
        const n = Math.min(set.digests.length, 256);
        await Promise.all(Array.from({ length: n }, (_, i) => client.put(set.digests[i] as Digest, set.bytes(i))));
        uploaded[kind] = n;
      }
      let r: ScenarioResult;
      if (scenario.startsWith('put')) {
        r = await drive(
          client,
          run,
          async (i) => {
            const j = i % set.digests.length;
            await client.put(set.digests[j] as Digest, set.bytes(j));
            uploaded[kind] = Math.max(uploaded[kind], j + 1);
            return set.size;
          },
          scenario,
        );
      } else if (scenario.startsWith('get')) {
        r = await drive(
          client,
          run,
          async (i) => {
            const stream = await client.get(set.digests[i % uploaded[kind]] as Digest, { verify: false });
            if (!stream) throw new Error('miss for an uploaded blob');
            let n = 0;
            for await (const c of stream) n += (c as Buffer).length;
            return n;
          },
          scenario,
        );
      } else {
        r = await drive(
          client,
          run,
          async (i) => {
            const digests = Array.from(
              { length: client.protocol === 'grpc' ? batch : 1 },
              (_, k) => set.digests[(i * batch + k) % set.digests.length] as Digest,
            );
            await client.findMissing(digests);
            return 0;
          },
          scenario,
        );
      }
      results.push(r);
      opts.onResult?.(r);
    }
  } finally {
    await client.close();
  }
  // client.server, not opts.server: a report is printed and saved, and must not hold a password.
  return { server: client.server, protocol: client.protocol, concurrency, smallSize, largeSize, results };
}

export const BENCH_HEADER = `${'SCENARIO'.padEnd(10)} ${'OPS'.padStart(8)} ${'ERR'.padStart(5)} ${'OPS/S'.padStart(9)} ${'MB/S'.padStart(8)} ${'P50ms'.padStart(8)} ${'P95ms'.padStart(8)} ${'P99ms'.padStart(8)}`;

export function formatBenchRow(r: ScenarioResult): string {
  const f = (x: number, w: number): string => x.toFixed(x >= 100 ? 0 : 2).padStart(w);
  return `${r.scenario.padEnd(10)} ${String(r.ops).padStart(8)} ${String(r.errors).padStart(5)} ${f(r.opsPerSec, 9)} ${f(r.mbPerSec, 8)} ${f(r.p50Ms, 8)} ${f(r.p95Ms, 8)} ${f(r.p99Ms, 8)}`;
}
