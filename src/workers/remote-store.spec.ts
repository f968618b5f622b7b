// The Store contract through the store channel: a RemoteStore over a MessageChannel whose
// other end serves a disk store, as a request thread reaches the store thread's (both ends
// run on this thread here; every call, body and entry still crosses as messages).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { storeConformance } from '../../test/conformance/store-conformance.ts';
import { storeAcrossThreads } from '../../test/helpers/store-across-threads.ts';
import { openDiskStore } from '../storage/disk/disk-store.ts';
import { MemoryStore } from '../storage/memory-store.ts';

storeConformance('RemoteStore over a DiskStore', async ({ maxBytes }) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hoard-remote-'));
  const disk = await openDiskStore({ dir, maxBytes, smallEntryBytes: 32 * 1024, segmentBytes: 48 * 1024 });
  return storeAcrossThreads(disk, { owns: true });
});

storeConformance('RemoteStore over a MemoryStore (entries that only stream)', async ({ maxBytes }) =>
  storeAcrossThreads(new MemoryStore({ maxBytes }), { owns: true }),
);
