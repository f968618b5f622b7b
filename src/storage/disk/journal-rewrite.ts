// Rewrites the journal as one put record per live entry, in LRU order (so a restart keeps
// recency), with moves folded into the records' locations; then swaps it in atomically
// (write a new file, fsync, rename over, fsync the directory). A crash at any point leaves
// either the old journal or the new one, never a mix.
import { open, rename } from 'node:fs/promises';
import path from 'node:path';
import type { EntryIndex } from './entry-index.ts';
import { JOURNAL_MAGIC, seal, setLocation } from './journal.ts';
import { journalPath } from './layout.ts';
import { syncDir } from './sync-dir.ts';

/**
 * `image` is the current journal's bytes and `putPosition(id)` the offset in it of the put
 * record that created entry `id` (undefined: the entry is left out, which reads as a miss).
 */
export async function rewriteJournal(
  dir: string,
  image: Buffer,
  index: EntryIndex,
  putPosition: (id: number) => number | undefined,
): Promise<number> {
  const parts: Buffer[] = [JOURNAL_MAGIC];
  for (const id of index.lruOrder()) {
    const pos = putPosition(id);
    if (pos === undefined) continue;
    const frame = Buffer.from(image.subarray(pos, pos + 8 + image.readUInt32LE(pos)));
    const rec = { frame };
    setLocation(rec, index.segment(id), index.offset(id));
    parts.push(seal(rec));
  }
  const bytes = Buffer.concat(parts);
  const jpath = journalPath(dir);
  const next = `${jpath}.new`;
  const fh = await open(next, 'w');
  try {
    let done = 0;
    while (done < bytes.length) done += (await fh.write(bytes, done, bytes.length - done, done)).bytesWritten;
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(next, jpath);
  await syncDir(path.dirname(jpath));
  return parts.length - 1;
}
