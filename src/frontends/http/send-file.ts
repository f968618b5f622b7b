// Sends an entry held in a file as a response body by reading it into reused buffers,
// without a stream between the file and the socket. A large download through
// `stream/promises.pipeline` allocated a fresh buffer per chunk, and the GC of that
// external memory cost more main-thread time than the reads and the socket writes.
//
// One chunk is read while the ones before it are still being written (`res.write` queues
// them); a full socket pauses the reads until it drains. A buffer goes back to the pool
// only from its write callback without an error: until then the socket may still be
// sending from it (rule 1 of reads: never reuse bytes something may still read).
import type { ServerResponse } from 'node:http';
import { BufferPool } from '../../core/buffer-pool.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { EntryFile } from '../../storage/store.ts';

/** Bytes per read and per socket write: few enough calls that their fixed cost is small. */
const CHUNK_BYTES = 1024 * 1024;

/** Released chunks kept for the next downloads (shared by every server in the process). */
const chunks = new BufferPool(32 * CHUNK_BYTES);

/**
 * Writes `length` bytes of `file` to `res` and ends it; closes the file whatever happens.
 * Rejects when the file has fewer bytes than promised or the client went away.
 */
export async function sendFile(res: ServerResponse, file: EntryFile, length: number): Promise<void> {
  try {
    let sent = 0;
    while (sent < length) {
      if (res.destroyed) throw new HoardError(ErrorCode.Aborted, 'the client went away during the download');
      const buf = chunks.acquire(Math.min(CHUNK_BYTES, length - sent));
      const n = await file.read(buf, sent);
      if (n === 0) throw new HoardError(ErrorCode.Internal, `the entry ended after ${sent} of ${length} bytes`);
      sent += n;
      const ok = res.write(n === buf.byteLength ? buf : buf.subarray(0, n), (err) => {
        if (!err) chunks.release(buf);
      });
      if (!ok && !res.destroyed) await drainOrClose(res);
    }
    res.end();
  } finally {
    await file.close();
  }
}

/** Resolves when the socket wants more, or the response closed (the loop then stops). */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
