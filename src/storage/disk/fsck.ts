// Offline check of a disk store: re-hashes every entry (CAS: sha256 against its key; AC and
// raw: the crc32 recorded at write time), moves corrupt bytes to quarantine/, journals the
// removal of corrupt and missing entries, and removes files no entry references (debris
// from a crash between publishing a file and journaling it). Holds the directory lock, so
// it refuses to run beside a live server.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { hashBytes } from '../../core/digest.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { Key } from '../../core/keys.ts';
import { lockDir } from './dir-lock.ts';
import { NO_BYTES, OWN_FILE } from './entry-index.ts';
import { encodeDelete, Op, scanJournal, seal, type PutRecord } from './journal.ts';
import {
  blobPath,
  blobsDir,
  journalPath,
  parseSegmentName,
  quarantineDir,
  segmentPath,
  segmentsDir,
  tmpDir,
} from './layout.ts';

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
    const { records, validLength } = scanJournal(image);
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
    const segments = new Map<number, FileHandle>();
    try {
      for (const [, e] of live) {
        options.onProgress?.(done++, live.size);
        const key = e.put.key();
        const found = await verify(dir, e, key, segments);
        if (found.verdict === undefined) {
          verified++;
          continue;
        }
        problems.push({ key, problem: found.missing ? 'missing' : 'corrupt', detail: found.verdict });
        if (!repair) continue;
        if (!found.missing)
          await quarantine(dir, key, e.segment === OWN_FILE ? blobPath(dir, e.put.slot, e.offset) : found.data!);
        removals.push(seal(encodeDelete(e.put.slot)));
        if (e.segment === OWN_FILE) await unlink(blobPath(dir, e.put.slot, e.offset)).catch(() => undefined);
      }
    } finally {
      for (const fh of segments.values()) await fh.close();
    }
    options.onProgress?.(live.size, live.size);
    if (removals.length > 0) {
      // After the intact records, not after a torn tail: the next open cuts the tail and
      // everything behind it, and the removals with it.
      const j = await open(journalPath(dir), 'r+');
      await j.truncate(validLength);
      const bytes = Buffer.concat(removals);
      await j.write(bytes, 0, bytes.length, validLength);
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
    return {
      entries: live.size,
      verified,
      problems,
      orphanFilesRemoved,
      orphanSegmentsRemoved,
      clean: problems.length === 0,
    };
  } finally {
    await lock.release();
  }
}

interface Verified {
  /** undefined: the entry verified; otherwise what is wrong. */
  readonly verdict: string | undefined;
  readonly missing?: boolean;
  /** A segment entry's bytes, for the quarantine. */
  readonly data?: Buffer;
}

async function verify(dir: string, e: Live, key: Key, segments: Map<number, FileHandle>): Promise<Verified> {
  try {
    if (e.segment === NO_BYTES) {
      const data = Buffer.alloc(0);
      return { verdict: check(key, e.put, data), data }; // a corrupt one is quarantined like any other
    }
    // Own files are checked as a stream: a blob may be larger than memory (or than a Buffer).
    if (e.segment === OWN_FILE) return { verdict: await checkFile(blobPath(dir, e.put.slot, e.offset), key, e.put) };
    let fh = segments.get(e.segment);
    if (!fh) {
      fh = await open(segmentPath(dir, e.segment), 'r');
      segments.set(e.segment, fh);
    }
    const data = Buffer.alloc(e.put.size);
    const { bytesRead } = await fh.read(data, 0, e.put.size, e.offset);
    if (bytesRead !== e.put.size)
      return { verdict: `${bytesRead} bytes in the segment, expected ${e.put.size}`, missing: true };
    return { verdict: check(key, e.put, data), data };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { verdict: 'its file is gone', missing: true };
    throw err;
  }
}

function check(key: Key, put: PutRecord, data: Buffer): string | undefined {
  if (data.length !== put.size) return `size ${data.length}, expected ${put.size}`;
  if (key.keyspace === 'cas') {
    const actual = hashBytes(data);
    return actual === key.id ? undefined : `content hashes to ${actual}`;
  }
  const crc = crc32(data);
  return crc === put.dataCrc ? undefined : `crc32 ${crc.toString(16)}, expected ${put.dataCrc.toString(16)}`;
}

async function checkFile(file: string, key: Key, put: PutRecord): Promise<string | undefined> {
  const hash = key.keyspace === 'cas' ? createHash('sha256') : undefined;
  let crc = 0;
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (hash) hash.update(chunk);
    else crc = crc32(chunk, crc);
  }
  if (size !== put.size) return `size ${size}, expected ${put.size}`;
  if (hash) {
    const actual = hash.digest('hex');
    return actual === key.id ? undefined : `content hashes to ${actual}`;
  }
  return crc === put.dataCrc ? undefined : `crc32 ${crc.toString(16)}, expected ${put.dataCrc.toString(16)}`;
}

/** Sets corrupt bytes aside: a segment entry's bytes are copied, an own file is moved. */
async function quarantine(dir: string, key: Key, bytes: Buffer | string): Promise<void> {
  await mkdir(quarantineDir(dir), { recursive: true });
  const safe = `${key.keyspace}-${key.id}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 200);
  const target = path.join(quarantineDir(dir), `${safe}-${Date.now()}`);
  if (typeof bytes === 'string') await rename(bytes, target);
  else await writeFile(target, bytes);
}
