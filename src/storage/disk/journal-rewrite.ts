// Rewrites the journal as one put record per live entry, in LRU order (so a restart keeps
// recency), with moves folded into the records' locations; then swaps it in atomically
// (write a new file, fsync, rename over, fsync the directory). A crash at any point leaves
// either the old journal or the new one, never a mix.
//
// Run at open (recovery.ts) and, through `JournalRewriter`, from the store's writer once the
// journal has become mostly history.
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { EntryIndex } from './entry-index.ts';
import { JOURNAL_MAGIC, Op, scanJournal, seal, setLocation } from './journal.ts';
import { journalPath } from './layout.ts';
import type { StoreState } from './store-state.ts';
import { syncDir } from './sync-dir.ts';

/**
 * The runtime trigger: after a commit, rewrites the journal once it holds more than
 * `slack` records beyond twice the entries. The rewrite goes to a new file that replaces
 * the old one only when complete, so a failure (a full disk, say) leaves the old journal in
 * place: the store reopens whichever journal is there and goes on appending, and tries
 * again only after another `slack` records. Writer only (it closes and reopens the journal).
 */
export class JournalRewriter {
  readonly #s: StoreState;
  readonly #slack: number;
  #retryAt = 0; // records above which the next rewrite is tried (raised after a failure)

  constructor(state: StoreState, slack: number) {
    this.#s = state;
    this.#slack = slack;
  }

  /** Whether the journal is due for a rewrite (checked after every commit). */
  due(): boolean {
    const s = this.#s;
    return s.journalRecords > Math.max(2 * s.index.size + this.#slack, this.#retryAt);
  }

  async rewrite(): Promise<void> {
    const s = this.#s;
    const jpath = journalPath(s.dir);
    await s.journal.close();
    try {
      const image = await readFile(jpath);
      const { records, positions } = scanJournal(image);
      const latestPut = new Map<string, number>();
      for (let i = 0; i < records.length; i++) {
        if (records[i]!.op === Op.Put) latestPut.set(records[i]!.slot.toString('latin1'), positions[i]!);
      }
      await rewriteJournal(s.dir, image, s.index, (id) => latestPut.get(s.index.slot(id).toString('latin1')));
      s.journalRecords = s.index.size;
      this.#retryAt = 0;
    } catch {
      this.#retryAt = s.journalRecords + this.#slack;
    } finally {
      s.journal = await open(jpath, 'r+'); // not O_APPEND: see recoverStore
      s.journalSize = (await s.journal.stat()).size;
    }
  }
}

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
  } catch (err) {
    // A half-written file must not keep the space a full disk needs.
    await fh.close().catch(() => undefined);
    await unlink(next).catch(() => undefined);
    throw err;
  }
  await fh.close();
  await rename(next, jpath);
  await syncDir(path.dirname(jpath));
  return parts.length - 1;
}
