// Distinct blobs for load generation, cheap to make and to hash. Blob i is a fixed filler
// followed by a 16-character tag (a per-run salt plus i in hex). Because the unique part is
// at the end, the hash state after the filler is computed once and copied per blob
// (Hash.copy), so precomputing a million digests costs almost nothing and the timed phase
// never hashes: the generator's CPU goes into sending, not into making bodies.
import { createHash, randomBytes, type Hash } from 'node:crypto';

export const TAG_BYTES = 16;

export interface BlobFamily {
  readonly size: number;
  /** The first size-16 bytes of every blob (ASCII, so Lua scripts can embed it). */
  readonly filler: Buffer;
  /** The 16 tag bytes of blob i. */
  tag(i: number): string;
  /** SHA-256 hex of blob i. */
  hash(i: number): string;
  /** Turns a buffer made by bytes() into blob i (rewrites the tag only). One per worker. */
  fill(into: Buffer, i: number): Buffer;
  /** A fresh buffer holding blob i. */
  bytes(i: number): Buffer;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Printable filler: random letters, so it can be embedded in a Lua long string. */
function printableFiller(n: number): Buffer {
  const raw = randomBytes(n);
  for (let i = 0; i < n; i++) raw[i] = ALPHABET.charCodeAt((raw[i] ?? 0) % ALPHABET.length);
  return raw;
}

/**
 * A family of distinct blobs of `size` bytes (>= 16). `salt` (8 hex chars) separates
 * runs so a kept store never answers "exists" for a blob of an earlier run.
 */
export function blobFamily(size: number, salt = randomBytes(4).toString('hex')): BlobFamily {
  if (size < TAG_BYTES) throw new Error(`blob size ${size} is below the ${TAG_BYTES}-byte tag`);
  if (!/^[0-9a-f]{8}$/.test(salt)) throw new Error('salt must be 8 hex characters');
  const filler = printableFiller(size - TAG_BYTES);
  const base: Hash = createHash('sha256').update(filler);
  const tag = (i: number) => salt + i.toString(16).padStart(8, '0');
  return {
    size,
    filler,
    tag,
    hash: (i) => base.copy().update(tag(i)).digest('hex'),
    fill(into, i) {
      if (into.length !== size) throw new Error('buffer size differs from the family size');
      into.write(tag(i), filler.length, 'latin1');
      return into;
    },
    bytes(i) {
      const b = Buffer.allocUnsafe(size);
      filler.copy(b, 0);
      b.write(tag(i), filler.length, 'latin1');
      return b;
    },
  };
}
