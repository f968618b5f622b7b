// An Entry over a byte range of an open descriptor (`EntryFile.span`): positional reads of
// that range, a stream made only if one asks for it, and `release` once, on close. The disk
// store answers an in-place read of a segment entry with one (the segment pinned until the
// release); a request thread reads the store thread's descriptors through one.
import { read as readFd } from 'node:fs';
import { Readable } from 'node:stream';
import type { Entry, EntryFile, FileSpan } from './store.ts';

/** Chunk size of a stream made over a file span. */
const SPAN_CHUNK = 256 * 1024;

/** `size` is the whole entry's; `span` the range asked for. `release` runs once, at close. */
export function spanEntry(size: number, span: FileSpan, release: () => void): Entry {
  let closed = false;
  let stream: Readable | undefined;
  const file: EntryFile = {
    span,
    read(buffer, offset) {
      const length = Math.min(buffer.byteLength, span.length - offset);
      if (length <= 0 || closed) return Promise.resolve(0);
      return new Promise((resolve, reject) => {
        readFd(span.fd, buffer, 0, length, span.start + offset, (err, bytesRead) =>
          err ? reject(err) : resolve(bytesRead),
        );
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      release();
    },
  };
  return {
    size,
    file,
    get stream(): Readable {
      return (stream ??= spanStream(file, span.length));
    },
  };
}

function spanStream(file: EntryFile, length: number): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= length) {
        this.push(null);
        return;
      }
      const buffer = Buffer.allocUnsafe(Math.min(SPAN_CHUNK, length - offset));
      file.read(buffer, offset).then(
        (n) => {
          offset += n;
          this.push(n === 0 ? null : buffer.subarray(0, n));
        },
        (err: Error) => this.destroy(err),
      );
    },
    destroy(err, callback) {
      file.close().then(
        () => callback(err),
        () => callback(err),
      );
    },
  });
}
