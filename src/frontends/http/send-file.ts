// Sends an entry held in a file as a response body by reading it into reused buffers,
// without a stream between the file and the socket. A large download through
// `stream/promises.pipeline` allocated a fresh buffer per chunk, and the GC of that
// external memory cost more main-thread time than the reads and the socket writes.
//
// The next chunk is read while the socket sends the one before (one read ahead, so a
// download holds two chunks at most); a full socket pauses the reads until it drains. A
// buffer goes back to the pool only from its write callback without an error: until then
// the socket may still be sending from it, and reusing it would corrupt that download.
import type { ServerResponse } from 'node:http';
import { BufferPool } from '../../core/buffer-pool.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { EntryFile } from '../../storage/store.ts';

/** Bytes per read and per socket write: few enough calls that their fixed cost is small. */
const CHUNK_BYTES = 2 * 1024 * 1024;

/** Released chunks kept for the next downloads (shared by every server in the process). */
const chunks = new BufferPool(16 * CHUNK_BYTES);

/**
 * Writes `length` bytes of `file` to `res` and ends it; closes the file whatever happens.
 * Rejects when the file has fewer bytes than promised or the client went away.
 */
export async function sendFile(res: ServerResponse, file: EntryFile, length: number): Promise<void> {
  const read = async (at: number): Promise<Buffer> => {
    const buf = chunks.acquire(Math.min(CHUNK_BYTES, length - at));
    const n = await file.read(buf, at);
    if (n === 0) throw new HoardError(ErrorCode.Internal, `the entry ended after ${at} of ${length} bytes`);
    return n === buf.byteLength ? buf : buf.subarray(0, n);
  };
  // The next chunk is read while the socket sends the one before: one read ahead.
  let next: Promise<Buffer> | undefined = read(0);
  try {
    let sent = 0;
    while (next !== undefined) {
      const chunk: Buffer = await next;
      sent += chunk.byteLength;
      next = sent < length ? read(sent) : undefined;
      if (res.destroyed) throw new HoardError(ErrorCode.Aborted, 'the client went away during the download');
      const ok = res.write(chunk, (err) => {
        if (!err) chunks.release(chunk);
      });
      if (!ok && !res.destroyed) await drainOrClose(res);
    }
    res.end();
  } finally {
    // A read still in flight settles before the file closes (FileHandle.close waits for it).
    next?.catch(() => undefined);
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
