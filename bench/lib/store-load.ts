// In-process load on a Store (the disk store, opened directly): concurrent puts of
// prepared bodies, a reusable fill of many tiny blobs, and the baselines a large put is
// judged against (single-core SHA-256, sequential write+fsync of the same bytes).
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { hashBytes } from '../../src/core/digest.ts';
import { casKey } from '../../src/core/keys.ts';
import { PipelinedFileWriter } from '../../src/storage/disk/pipelined-file-writer.ts';
import type { Store } from '../../src/storage/store.ts';
import { pool } from './pool.ts';

export const CHUNK = 2 ** 20;

/** Tiny blob i of a fill: 64..256 bytes, the 16-byte tag first, then filler. */
export function tinyBlob(salt: string, i: number, filler: Buffer): Buffer {
  const size = 64 + ((i * 37) % 193);
  const b = Buffer.allocUnsafe(size);
  b.write(salt + i.toString(16).padStart(8, '0'), 0, 'latin1');
  filler.copy(b, 16, 0, size - 16);
  return b;
}

export function sha256Hex(b: Uint8Array): string {
  return hashBytes(b);
}

/**
 * Puts `count` blobs made by `make(i)` with `concurrency` in flight. Every outcome must be
 * 'created' (distinct blobs): anything else is counted and reported, not hidden.
 */
export async function putMany(
  store: Store,
  count: number,
  concurrency: number,
  make: (i: number) => { hash: string; body: Uint8Array | AsyncIterable<Uint8Array>; size: number },
  progress?: (done: number) => void,
): Promise<{ latencies: number[]; notCreated: number }> {
  let done = 0;
  let notCreated = 0;
  const latencies = await pool(count, concurrency, async (i) => {
    const { hash, body, size } = make(i);
    const outcome = await store.put(casKey(hash), body, { size });
    if (outcome !== 'created') notCreated++;
    if (progress && ++done % 10_000 === 0) progress(done);
  });
  return { latencies, notCreated };
}

/** A buffer as a stream of CHUNK-sized views (no copies), as a network body would come. */
export async function* chunks(b: Buffer): AsyncIterable<Uint8Array> {
  for (let off = 0; off < b.length; off += CHUNK) yield b.subarray(off, Math.min(b.length, off + CHUNK));
}

/** Seconds to SHA-256 `b` in CHUNK pieces on this thread (one core), `times` times. */
export function timeSha256(b: Buffer, times: number): number {
  const t0 = performance.now();
  for (let k = 0; k < times; k++) {
    const h = createHash('sha256');
    for (let off = 0; off < b.length; off += CHUNK) h.update(b.subarray(off, Math.min(b.length, off + CHUNK)));
    h.digest();
  }
  return (performance.now() - t0) / 1000;
}

let writeFsyncFiles = 0;

/**
 * Seconds to write `b` to a new file in `dir` and fsync it, `times` times (a new file each
 * time, kept until the section's scratch directory goes, as the store keeps its files): what the
 * medium gives a writer that wants durability. It writes through the store's own
 * PipelinedFileWriter with the same 8 MiB fdatasync cadence as a large put, minus hashing
 * and the index, so a single end-of-file fsync (which this disk serves at a third of the
 * speed once it throttles) cannot make the store look faster than the disk.
 */
export async function timeWriteFsync(dir: string, b: Buffer, times: number): Promise<number> {
  let total = 0;
  for (let k = 0; k < times; k++) {
    const file = path.join(dir, `bench-write-fsync-${process.pid}-${writeFsyncFiles++}.tmp`);
    const t0 = performance.now();
    const fh = await open(file, 'wx');
    try {
      const writer = new PipelinedFileWriter(fh, { flushEveryBytes: 8 * CHUNK });
      for (let off = 0; off < b.length; off += CHUNK)
        await writer.push(b.subarray(off, Math.min(b.length, off + CHUNK)));
      await writer.finish();
      await fh.sync();
    } finally {
      await fh.close();
    }
    total += (performance.now() - t0) / 1000;
  }
  return total;
}
