// An Entry whose bytes are already in memory (a read cache hit, a whole segment entry, a
// memory store's value): consumers send `bytes` directly, and the stream is made only if
// one asks for it.
import { Readable } from 'node:stream';
import type { Entry } from './store.ts';

export function inMemoryEntry(size: number, bytes: Buffer, release?: () => void): Entry {
  let stream: Readable | undefined;
  return {
    size,
    bytes,
    release,
    get stream(): Readable {
      return (stream ??= Readable.from([bytes], { objectMode: false }));
    },
  };
}
