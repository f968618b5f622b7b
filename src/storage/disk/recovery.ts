// Opening a disk store after a clean stop or a crash: empties tmp/ (uploads in progress
// are debris), replays the journal into the index and cuts a torn tail (rule 2), opens the
// segments and drops index entries whose bytes (segment range or own file) are not there,
// removes segments nothing references, and starts a fresh active segment. Everything the
// store then reports present is readable.
//
// On a full disk, opening still works: tmp/ is emptied first (freeing what uploads left), a
// journal rewrite that finds no space is skipped (the old journal stays in use: what it
// names whose bytes are missing is dropped again at each open), and segment ids the
// journal ever named are never given to a new segment, so a record left behind can never
// come to name another entry's bytes.
import { mkdir, open, readdir, readFile, rm, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { EntryIndex, NO_BYTES, OWN_FILE } from './entry-index.ts';
import { isNoSpace } from './file-system-bound.ts';
import { Op, replayJournal } from './journal.ts';
import { rewriteJournal } from './journal-rewrite.ts';
import { blobPath, blobsDir, diskFootprint, journalPath, parseSegmentName, segmentsDir, tmpDir } from './layout.ts';
import { Segment, type OpenFile } from './segment.ts';
import { syncDir } from './sync-dir.ts';

export interface RecoveryReport {
  readonly entries: number;
  readonly journalRecords: number;
  readonly tornBytesCut: number;
  readonly danglingEntriesDropped: number;
  readonly journalRewritten: boolean;
  readonly openMs: number;
}

export interface Recovered {
  readonly segments: Map<number, Segment>;
  readonly active: Segment;
  readonly journal: FileHandle;
  readonly journalSize: number;
  readonly journalRecords: number;
  readonly ownFileBytes: number;
  readonly liveBytes: number;
  /** Next generation number for own-file names. */
  readonly generation: number;
  readonly report: RecoveryReport;
}

export async function recoverStore(
  dir: string,
  index: EntryIndex,
  started = performance.now(),
  openFile: OpenFile = open,
): Promise<Recovered> {
  await rm(tmpDir(dir), { recursive: true, force: true });
  await Promise.all([tmpDir(dir), segmentsDir(dir), blobsDir(dir)].map((d) => mkdir(d, { recursive: true })));

  const jpath = journalPath(dir);
  const image = await readFile(jpath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return Buffer.alloc(0);
    throw err;
  });
  const positions: number[] = []; // entry id -> journal offset of its latest put
  let journalRecords = 0;
  let generation = 0;
  let maxSegment = 0; // the highest segment id named by the journal or found on disk
  // The index counts every namespace's bytes and entries as it is rebuilt (and as dangling
  // entries are dropped below), so quotas and usage are right from the start.
  const validLength = replayJournal(image, (op, slot, segment, offset, size, position, namespace) => {
    journalRecords++;
    if (op !== Op.Delete && segment !== OWN_FILE && segment !== NO_BYTES && segment > maxSegment) maxSegment = segment;
    if (op === Op.Put) {
      positions[index.set(slot, segment, offset, size, index.namespaces.idOf(namespace))] = position;
      if (segment === OWN_FILE && offset > generation) generation = offset;
      return;
    }
    const id = index.find(slot);
    if (id < 0) return;
    if (op === Op.Move) index.relocate(id, segment, offset);
    else index.remove(id);
  });
  const tornBytesCut = image.length - validLength;

  // Defence in depth: with durability=fsync the journal never runs ahead of the data, but an
  // entry whose bytes are not there must never be reported present.
  const segments = new Map<number, Segment>();
  for (const name of await readdir(segmentsDir(dir))) {
    const id = parseSegmentName(name);
    if (id === undefined) continue;
    segments.set(id, await Segment.open(dir, id, false, openFile));
    maxSegment = Math.max(maxSegment, id);
  }
  const dangling: number[] = [];
  const ownFiles = new Map<number, number[]>(); // by first slot byte = blobs/ subdirectory
  let ownFileBytes = 0;
  let liveBytes = 0;
  for (const id of index.lruOrder()) {
    const segId = index.segment(id);
    const size = index.entrySize(id);
    if (segId === OWN_FILE) {
      const sub = index.slot(id)[0]!;
      const ids = ownFiles.get(sub);
      if (ids) ids.push(id);
      else ownFiles.set(sub, [id]);
      continue;
    } else if (segId === NO_BYTES) {
      if (size !== 0) {
        dangling.push(id);
        continue;
      }
    } else {
      const seg = segments.get(segId);
      if (!seg || index.offset(id) + size > seg.size) {
        dangling.push(id);
        continue;
      }
      seg.live += size;
    }
    liveBytes += size;
  }
  // Own files: one readdir per blobs/ subdirectory (cheap, unlike a stat per file).
  for (const ids of ownFiles.values()) {
    const sub = path.dirname(blobPath(dir, index.slot(ids[0]!), 0));
    const names = new Set(
      await readdir(sub).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err))),
    );
    for (const id of ids) {
      if (!names.has(path.basename(blobPath(dir, index.slot(id), index.offset(id))))) {
        dangling.push(id);
        continue;
      }
      ownFileBytes += diskFootprint(index.entrySize(id));
      liveBytes += index.entrySize(id);
    }
  }
  for (const id of dangling) index.remove(id);
  for (const seg of [...segments.values()]) {
    if (seg.live > 0) continue;
    segments.delete(seg.id);
    await seg.remove();
  }

  // Rewrite when the journal is mostly history or entries were dropped; otherwise just cut
  // a torn tail (the records before it are intact, rule 2).
  let rewrite = dangling.length > 0 || journalRecords > 2 * index.size + 10_000 || image.length === 0;
  if (rewrite) {
    try {
      await rewriteJournal(dir, image, index, (id) => positions[id]);
    } catch (err) {
      // A new store's journal needs its header; any other can wait for a disk with room.
      if (!isNoSpace(err) || image.length === 0) throw err;
      rewrite = false;
    }
  }
  if (!rewrite && validLength < image.length) await truncate(jpath, validLength);

  // Not O_APPEND ('a'): records are written with pwrite at the length the store counts, and
  // under O_APPEND Linux ignores that position and writes after whatever else is there.
  const journal = await openFile(jpath, 'r+');
  const active = await Segment.open(dir, maxSegment + 1, true, openFile);
  await syncDir(segmentsDir(dir)); // its name durable before any record points into it
  segments.set(active.id, active);
  return {
    segments,
    active,
    journal,
    journalSize: (await journal.stat()).size,
    journalRecords: rewrite ? index.size : journalRecords,
    ownFileBytes,
    liveBytes,
    generation: Math.max(generation, Date.now()) + 1,
    report: {
      entries: index.size,
      journalRecords,
      tornBytesCut,
      danglingEntriesDropped: dangling.length,
      journalRewritten: rewrite,
      openMs: Math.round(performance.now() - started),
    },
  };
}
