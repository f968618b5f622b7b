// fsync of a directory: makes a rename or a new file's name durable (the data was synced
// separately). Without it, a power loss can undo a rename that the journal already records.
import { open } from 'node:fs/promises';

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
