// A request's place in the WebDAV tree, read from the path the route table hands over. The
// path becomes part of every key id the tree stores for it (collections.ts), so a path
// whose longest key would exceed the store's id limit is refused here, with a 400 that
// says why, before admission and before anything is stored.
import { namespaceOfHttpPrefix } from '../../cache/namespaces.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { MAX_ID_BYTES } from '../../core/keys.ts';
import { KEY_ID_OVERHEAD } from './dav-keys.ts';

/** The longest path below the mount, in UTF-8 bytes with its slashes, that can be stored. */
export const MAX_PATH_BYTES = MAX_ID_BYTES - KEY_ID_OVERHEAD;

export interface DavPath {
  readonly namespace: string;
  /** The URL prefix and the mount, to build hrefs from. */
  readonly base: readonly string[];
  /** Below the mount; empty for the root collection. */
  readonly path: readonly string[];
}

export function davPath(
  httpPrefix: 'namespace' | 'ignore',
  mount: readonly string[],
  segments: readonly string[],
  prefix: readonly string[],
): DavPath {
  const bytes = Buffer.byteLength(segments.join('/'));
  if (bytes > MAX_PATH_BYTES) {
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `WebDAV paths below the mount are limited to ${MAX_PATH_BYTES} bytes; this one has ${bytes}`,
    );
  }
  return {
    namespace: namespaceOfHttpPrefix(httpPrefix, prefix.join('/')),
    base: [...prefix, ...mount],
    path: segments,
  };
}
