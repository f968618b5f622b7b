// Timing a batch of calls for the benchmarks: `count` calls, `concurrency` in flight, the
// server's and this process's CPU sampled meanwhile, per-call latencies summarised.
// Failures are counted, never thrown, and only successful calls count toward the rate: a
// failing server must not look fast.
import { startCpuSampler, type CpuShares } from './cpu.ts';
import { pool } from './pool.ts';
import { summarizeLatency } from './report.ts';

export interface Measured {
  perSecond: number;
  seconds: number;
  failures: number;
  firstError?: string;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  cpu: CpuShares;
}

/**
 * Runs `count` calls of `task` with `concurrency` in flight. `tail` runs once they are all
 * done and its time counts (e.g. waiting for a queue to drain).
 */
export async function measure(
  count: number,
  concurrency: number,
  serverPids: readonly number[],
  task: (i: number, worker: number) => Promise<boolean>,
  tail?: () => Promise<void>,
): Promise<Measured> {
  let failures = 0;
  let firstError: string | undefined;
  const sampler = startCpuSampler({ serverPids, generatorInProcess: true });
  const t0 = performance.now();
  const latencies = await pool(count, concurrency, async (i, worker) => {
    try {
      if (!(await task(i, worker))) failures++;
    } catch (err) {
      failures++;
      firstError ??= (err as Error).message;
    }
  });
  await tail?.();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = sampler.stop();
  const max = latencies.length === 0 ? 0 : Math.max(...latencies);
  const { p50, p95, p99 } = summarizeLatency(latencies);
  return { perSecond: (count - failures) / seconds, seconds, failures, firstError, p50, p95, p99, max, cpu };
}

/** A row's warning for a measurement with failures (the first error's message), else undefined. */
export function warn(m: Measured): string | undefined {
  return m.failures ? `${m.failures} failed${m.firstError ? ` (${m.firstError.slice(0, 120)})` : ''}` : undefined;
}
