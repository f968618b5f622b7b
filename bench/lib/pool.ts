// Bounded concurrency for load generation: `concurrency` workers pull indexes 0..count-1
// in order, so a worker's next task starts the moment its previous one ends (closed loop).

/** Runs `task(i, worker)` for every i with `concurrency` in flight; returns each latency (ms). */
export async function pool(
  count: number,
  concurrency: number,
  task: (i: number, worker: number) => Promise<void>,
): Promise<number[]> {
  const latencies: number[] = new Array<number>(count);
  let next = 0;
  const worker = async (w: number) => {
    while (true) {
      const i = next++;
      if (i >= count) return;
      const t0 = performance.now();
      await task(i, w);
      latencies[i] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, (_, w) => worker(w)));
  return latencies;
}
