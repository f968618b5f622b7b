// The "open a big store" measurement, meant to run alone in a fresh process started with
// --expose-gc: time to open and serve a first read, and the memory the open added
// (heap + external, which includes Buffers/ArrayBuffers) after forced collections.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashBytes } from '../../src/core/digest.ts';
import { casKey } from '../../src/core/keys.ts';
import { openDiskStore } from '../../src/storage/disk/disk-store.ts';

export interface OpenMeasurement {
  readonly openSeconds: number;
  readonly firstReadSeconds: number;
  /** heapUsed+external after open minus before, after full GCs. */
  readonly indexBytes: number;
  readonly rssBytes: number;
  readonly entries: number;
  /** The first read returned the expected bytes (length and hash). */
  readonly probeOk: boolean;
  /** Of the extra `checks` (read after the measurement, untimed), how many read back intact. */
  readonly checksOk: number;
  readonly checks: number;
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
}

function footprint(): { managed: number; rss: number } {
  const m = process.memoryUsage();
  return { managed: m.heapUsed + m.external, rss: m.rss };
}

/**
 * Opens the store at `dir`, times open + one read of `probeHash`, measures memory, then
 * reads every hash of `checks` (untimed) to confirm the reopened index serves what it counts.
 */
export async function openAndMeasure(
  dir: string,
  probeHash: string,
  probeSize: number,
  checks: readonly string[] = [],
): Promise<OpenMeasurement> {
  // Warm-up on an empty store: module loading and first-call compilation are part of the
  // fixed base, not of the per-blob cost, and not what an operator waits for on restart.
  const empty = await mkdtemp(path.join(tmpdir(), 'hoard-bench-empty-'));
  const warm = await openDiskStore({ dir: empty, maxBytes: 0 });
  await warm.get(casKey(probeHash));
  await warm.close();
  await rm(empty, { recursive: true, force: true });

  collect();
  const before = footprint();
  const t0 = performance.now();
  const store = await openDiskStore({ dir, maxBytes: 0 });
  const t1 = performance.now();
  const entry = await store.get(casKey(probeHash));
  const hash = createHash('sha256');
  let size = 0;
  if (entry) {
    for await (const chunk of entry.stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
    }
  }
  const t2 = performance.now();
  collect();
  const after = footprint();
  const entries = store.usage().entries;
  let checksOk = 0;
  for (const h of checks) {
    const bytes = await store.getBytes(casKey(h));
    if (bytes && hashBytes(bytes) === h) checksOk++;
  }
  await store.close();
  return {
    openSeconds: (t1 - t0) / 1000,
    firstReadSeconds: (t2 - t1) / 1000,
    indexBytes: after.managed - before.managed,
    rssBytes: after.rss - before.rss,
    entries,
    probeOk: entry !== undefined && size === probeSize && hash.digest('hex') === probeHash,
    checksOk,
    checks: checks.length,
  };
}
