import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { storeConformance } from '../../../test/conformance/store-conformance.ts';
import { openDiskStore } from './disk-store.ts';

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function freshDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'hoard-disk-'));
  dirs.push(d);
  return d;
}

// Small segments and a small-entry threshold below some test blobs, so both the segment
// path and the file-per-entry path (and compaction) run under the same contract.
storeConformance('DiskStore', async ({ maxBytes }) =>
  openDiskStore({ dir: await freshDir(), maxBytes, smallEntryBytes: 32 * 1024, segmentBytes: 48 * 1024 }),
);
