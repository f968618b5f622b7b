// The raw keys of the WebDAV tree, in the request's namespace:
//   dav:<path>              a file's bytes
//   dav-dir:<path>          a collection's marker: the collection exists while it does
//   dav-ls:<path>#<shard>   a part of its listing (listing-part.ts), written by one request
//                           thread only (its stable index modulo SHARDS)
import { rawKey, type Key } from '../../core/keys.ts';

/**
 * Listing parts per collection: more request threads than this share parts (index modulo),
 * and two threads sharing one can lose a member to a concurrent rewrite (the file stays).
 */
const SHARDS = 16;

/** The part a request thread writes, from its stable index (which survives its restarts). */
export function shardOf(threadIndex: number): number {
  return threadIndex % SHARDS;
}
/** A marker's bytes. */
export const MARKER = Buffer.from('collection');
/** The most a key id adds to a path (`dav-ls:` and `#15`): a longer path cannot be stored. */
export const KEY_ID_OVERHEAD = 'dav-ls:'.length + `#${SHARDS - 1}`.length;

type Path = readonly string[];

export function fileKey(namespace: string, path: Path): Key {
  return rawKey(`dav:${path.join('/')}`, namespace);
}

export function markerKey(namespace: string, path: Path): Key {
  return rawKey(`dav-dir:${path.join('/')}`, namespace);
}

/** The keys of every part of the listing of `path`, by shard. */
export function partKeys(namespace: string, path: Path): Key[] {
  return Array.from({ length: SHARDS }, (_, shard) => rawKey(`dav-ls:${path.join('/')}#${shard}`, namespace));
}
