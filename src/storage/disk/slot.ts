// A key's slot: 32 bytes, uniformly spread (the index hashes on its first word).
// - CAS keys in the default namespace already are sha256 digests: their bytes are the slot,
//   no hashing needed (FindMissingBlobs asks for thousands per call).
// - Everything else: sha256 over keyspace, namespace and id, with `crypto.hash` (one-shot,
//   no Hash object per lookup). A raw or AC slot cannot equal a CAS digest unless sha256
//   has a preimage, so keyspaces cannot collide.
import { hash } from 'node:crypto';
import { decodeLowerHex } from '../../core/hex.ts';
import { keyString, type Key } from '../../core/keys.ts';

export const SLOT_BYTES = 32;

/** The slot of `key` in a new buffer (kept by the index). */
export function slotOf(key: Key): Buffer {
  const out = Buffer.allocUnsafe(SLOT_BYTES);
  return digestSlot(key, out) ? out : hashedSlot(key);
}

/** The slot of `key` in `scratch` (or a new buffer, or the key's own digest bytes), for a lookup that does not keep it. */
export function lookupSlot(key: Key, scratch: Buffer): Buffer {
  const digest = key.digest;
  if (Buffer.isBuffer(digest) && digest.length === SLOT_BYTES && key.keyspace === 'cas' && key.namespace === '')
    return digest;
  return digestSlot(key, scratch) ? scratch : hashedSlot(key);
}

function hashedSlot(key: Key): Buffer {
  return hash('sha256', keyString(key), 'buffer');
}

/** A default-namespace CAS id of 64 lower-case hex digits decodes into `out`; others are hashed. */
function digestSlot(key: Key, out: Buffer): boolean {
  return key.keyspace === 'cas' && key.namespace === '' && decodeLowerHex(key.id, out);
}
