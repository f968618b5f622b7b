// Offline check of a disk store: re-hashes every entry (CAS: sha256 against its key; AC and
// raw: the crc32 recorded at write time), moves corrupt bytes to quarantine/, journals the
// removal of corrupt and missing entries, and removes files no entry references (debris
// from a crash between publishing a file and journaling it). Holds the directory lock, so
// it refuses to run beside a live server.
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { Key } from '../../core/keys.ts';
import { lockDir } from './dir-lock.ts';
import { NO_BYTES, OWN_FILE } from './entry-index.ts';
import { encodeDelete, Op, scanJournal, seal, type PutRecord } from './journal.ts';
import { blobPath, blobsDir, journalPath, parseSegmentName, quarantineDir, segmentPath, segmentsDir, tmpDir } from './layout.ts';

export interface FsckProblem {
  readonly key: Key;
  readonly problem: 'corrupt' | 'missing';
  readonly detail: string;
}

export interface FsckReport {
  readonly entries: number;
  readonly verified: number;
  readonly problems: FsckProblem[];
  readonly orphanFilesRemoved: number;
  readonly orphanSegmentsRemoved: number;
  /** True when every entry verified; orphans alone do not make a store unclean. */
  readonly clean: boolean;
}

export interface FsckOptions {
  /** Quarantine and unindex what fails (default true); false only reports. */
  readonly repair?: boolean;
  readonly onProgress?: (done: number, total: number) => void;
}

interface Live {
  put: PutRecord;
  segment: number;
  offset: number;
}

export async function fsckDiskStore(dir: string, options: FsckOptions = {}): Promise<FsckReport> {
  const repair = options.repair ?? true;
  await stat(journalPath(dir)).catch(() => {
    throw new HoardError(ErrorCode.InvalidArgument, `no hoard store at ${dir} (it has no journal)`);
  });
  const lock = await lockDir(dir);
  try {
    const image = await readFile(journalPath(dir));
    const { records } = scanJournal(image);
    const live = new Map<string, Live>();
    for (const rec of records) {
      const k = rec.slot.toString('hex');
      if (rec.op === Op.Put) live.set(k, { put: rec, segment: rec.segment, offset: rec.offset });
      else if (rec.op === Op.Move) {
        const e = live.get(k);
        if (e) Object.assign(e, { segment: rec.segment, offset: rec.offset });
      } else live.delete(k);
    }

    const problems: FsckProblem[] = [];
    const removals: Buffer[] = [];
    let verified = 0;
    let done = 0;
    const segments = new Map<number, Awaited<ReturnType<typeof open>>>();
    try {
      for (const [, e] of live) {
        options.onProgress?.(done++, live.size);
        const key = e.put.key();
        const data = await readEntry(dir, e, segments);
        const verdict = data === undefined ? 'missing' : check(key, e.put, data);
        if (verdict === undefined) {
          verified++;
          continue;
        }
        problems.push({ key, problem: data === undefined ? 'missing' : 'corrupt', detail: verdict });
        if (!repair) continue;
        if (data !== undefined) await quarantine(dir, key, data);
        removals.push(seal(encodeDelete(e.put.slot)));
        if (e.segment === OWN_FILE) await unlink(blobPath(dir, e.put.slot, e.offset)).catch(() => undefined);
      }
    } finally {
      for (const fh of segments.values()) await fh.close();
    }
    options.onProgress?.(live.size, live.size);
    if (removals.length > 0) {
      const j = await open(journalPath(dir), 'a');
      await j.write(Buffer.concat(removals));
      await j.sync();
      await j.close();
    }

    let orphanFilesRemoved = 0;
    let orphanSegmentsRemoved = 0;
    if (repair) {
      const keep = new Set<string>();
      const usedSegments = new Set<number>();
      for (const e of live.values()) {
        if (e.segment === OWN_FILE) keep.add(path.basename(blobPath(dir, e.put.slot, e.offset)));
        else if (e.segment !== NO_BYTES) usedSegments.add(e.segment);
      }
      for (const sub of await readdir(blobsDir(dir)).catch(() => [])) {
        for (const name of await readdir(path.join(blobsDir(dir), sub)).catch(() => [])) {
          if (keep.has(name)) continue;
          await unlink(path.join(blobsDir(dir), sub, name));
          orphanFilesRemoved++;
        }
      }
      for (const name of await readdir(segmentsDir(dir)).catch(() => [])) {
        const id = parseSegmentName(name);
        if (id === undefined || usedSegments.has(id)) continue;
        await unlink(segmentPath(dir, id));
        orphanSegmentsRemoved++;
      }
      await rm(tmpDir(dir), { recursive: true, force: true });
    }
    return { entries: live.size, verified, problems, orphanFilesRemoved, orphanSegmentsRemoved, clean: problems.length === 0 };
  } finally {
    await lock.release();
  }
}

async function readEntry(dir: string, e: Live, segments: Map<number, Awaited<ReturnType<typeof open>>>): Promise<Buffer | undefined> {
  try {
    if (e.segment === NO_BYTES) return Buffer.alloc(0);
    if (e.segment === OWN_FILE) return await readFile(blobPath(dir, e.put.slot, e.offset));
    let fh = segments.get(e.segment);
    if (!fh) {
      fh = await open(segmentPath(dir, e.segment), 'r');
      segments.set(e.segment, fh);
    }
    const buf = Buffer.alloc(e.put.size);
    const { bytesRead } = await fh.read(buf, 0, e.put.size, e.offset);
    return bytesRead === e.put.size ? buf : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function check(key: Key, put: PutRecord, data: Buffer): string | undefined {
  if (data.length !== put.size) return `size ${data.length}, expected ${put.size}`;
  if (key.keyspace === 'cas') {
    const actual = createHash('sha256').update(data).digest('hex');
    return actual === key.id ? undefined : `content hashes to ${actual}`;
  }
  const crc = crc32(data);
  return crc === put.dataCrc ? undefined : `crc32 ${crc.toString(16)}, expected ${put.dataCrc.toString(16)}`;
}

async function quarantine(dir: string, key: Key, data: Buffer): Promise<void> {
  await mkdir(quarantineDir(dir), { recursive: true });
  const safe = `${key.keyspace}-${key.id}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200);
  await writeFile(path.join(quarantineDir(dir), `${safe}-${Date.now()}`), data);
}
