// A key's slot: sha256 over keyspace, namespace and id. Fixed 32 bytes whatever the key's
// length, uniformly spread (the index hashes on its first word).
import { createHash } from 'node:crypto';
import type { Key } from '../../core/keys.ts';

export function slotOf(key: Key): Buffer {
  return createHash('sha256').update(`${key.keyspace}\u0000${key.namespace}\u0000${key.id}`).digest();
}
