// A key's slot: 32 bytes, uniformly spread (the index hashes on its first word).
// - CAS keys in the default namespace already are sha256 digests: their bytes are the slot,
//   no hashing needed (FindMissingBlobs asks for thousands per call).
// - Everything else: sha256 over keyspace, namespace and id, with `crypto.hash` (one-shot,
//   no Hash object per lookup). A raw or AC slot cannot equal a CAS digest unless sha256
//   has a preimage, so keyspaces cannot collide.
import { hash } from 'node:crypto';
import type { Key } from '../../core/keys.ts';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function slotOf(key: Key): Buffer {
  if (key.keyspace === 'cas' && key.namespace === '' && SHA256_HEX.test(key.id)) return Buffer.from(key.id, 'hex');
  return hash('sha256', `${key.keyspace}\u0000${key.namespace}\u0000${key.id}`, 'buffer');
}
