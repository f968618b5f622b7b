// REAPI: servers behave as though the empty blob always exists. Every store answers for
// it without touching its medium, so no tier can "lose" it.
import { emptyHash } from '../core/digest.ts';
import type { Key } from '../core/keys.ts';

let emptyBytes: Buffer | undefined;

/** Whether `digest` (32 bytes) is the empty blob's sha256. */
export function isEmptyDigest(digest: Uint8Array): boolean {
  emptyBytes ??= Buffer.from(emptyHash(), 'hex');
  return digest.length === emptyBytes.length && digest[0] === emptyBytes[0] && emptyBytes.equals(digest);
}

export function isEmptyBlobKey(key: Key): boolean {
  if (key.keyspace !== 'cas') return false;
  // A key over decoded digest bytes is compared as bytes: asking for its id would make a string.
  const digest = key.digest;
  if (digest !== undefined) {
    return isEmptyDigest(digest);
  }
  return key.id === emptyHash();
}
