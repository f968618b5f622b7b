// Keys of the three keyspaces. CAS ids are content hashes (verified on put); AC ids are
// action digests' hashes (the value is an ActionResult or, in raw-AC mode, opaque bytes);
// raw ids are opaque strings from other tools' protocols (Turborepo, Nx, ccache, Gradle).
// `namespace` separates instances (Bazel URL prefixes, REAPI instance names); '' is the default.
import { ErrorCode, HoardError } from './errors.ts';

export type Keyspace = 'cas' | 'ac' | 'raw';

export interface Key {
  readonly keyspace: Keyspace;
  readonly namespace: string;
  readonly id: string;
  /**
   * A CAS id's 32 digest bytes, when the caller decoded them already (FindMissingBlobs):
   * a store may look them up without decoding `id`. Always the bytes `id` spells.
   */
  readonly digest?: Uint8Array;
}

export const MAX_ID_BYTES = 1024;
export const MAX_NAMESPACE_BYTES = 1024;

export function casKey(hash: string, namespace = ''): Key {
  return { keyspace: 'cas', namespace, id: hash };
}

export function acKey(hash: string, namespace = ''): Key {
  return { keyspace: 'ac', namespace, id: hash };
}

export function rawKey(id: string, namespace = ''): Key {
  return { keyspace: 'raw', namespace, id };
}

/** Checks the parts every store relies on; protocol-specific checks live in the frontends. */
export function checkKey(key: Key): void {
  if (Buffer.byteLength(key.id) === 0 || Buffer.byteLength(key.id) > MAX_ID_BYTES) {
    throw new HoardError(ErrorCode.InvalidArgument, `key id must be 1..${MAX_ID_BYTES} bytes`);
  }
  if (Buffer.byteLength(key.namespace) > MAX_NAMESPACE_BYTES) {
    throw new HoardError(ErrorCode.InvalidArgument, `namespace must be at most ${MAX_NAMESPACE_BYTES} bytes`);
  }
}

/**
 * A stable text form, used in logs, as the map key of simple stores, and hashed into the
 * disk store's slots (storage/disk/slot.ts): an on-disk format, so never change it without
 * a journal format version (slot.spec.ts pins it).
 */
export function keyString(key: Key): string {
  return `${key.keyspace}\u0000${key.namespace}\u0000${key.id}`;
}
