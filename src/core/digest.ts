// Digests: a hash of the content plus its size. The size is part of the identity
// (REAPI: a right hash with a wrong size must be rejected). The digest function is
// plumbed through as a name so BLAKE3 can join SHA-256 without changing call sites.
import { createHash, type Hash } from 'node:crypto';
import { ErrorCode, HoardError } from './errors.ts';
import { isLowerHex } from './hex.ts';

export type DigestFunction = 'sha256';
export const DEFAULT_DIGEST_FUNCTION: DigestFunction = 'sha256';

export interface Digest {
  readonly hash: string;
  readonly sizeBytes: number;
}

const HEX_LENGTH: Record<DigestFunction, number> = { sha256: 64 };
const EMPTY_HASH: Record<DigestFunction, string> = {
  sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
};

export function emptyHash(fn: DigestFunction = DEFAULT_DIGEST_FUNCTION): string {
  return EMPTY_HASH[fn];
}

/** True when `hash` is lowercase hex of the right length for `fn`. */
export function isValidHash(hash: string, fn: DigestFunction = DEFAULT_DIGEST_FUNCTION): boolean {
  return isLowerHex(hash, HEX_LENGTH[fn]);
}

/** Throws InvalidArgument with a message a person can act on. */
export function checkHash(hash: string, fn: DigestFunction = DEFAULT_DIGEST_FUNCTION): void {
  if (!isValidHash(hash, fn)) {
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `invalid ${fn} hash ${JSON.stringify(hash.slice(0, 80))}: expected ${HEX_LENGTH[fn]} lowercase hex characters`,
    );
  }
}

export function checkDigest(d: Digest, fn: DigestFunction = DEFAULT_DIGEST_FUNCTION): void {
  checkHash(d.hash, fn);
  if (!Number.isSafeInteger(d.sizeBytes) || d.sizeBytes < 0) {
    throw new HoardError(
      ErrorCode.InvalidArgument,
      `invalid digest size ${d.sizeBytes}: expected a non-negative integer`,
    );
  }
  if (d.sizeBytes === 0 && d.hash !== EMPTY_HASH[fn]) {
    throw new HoardError(ErrorCode.InvalidArgument, `digest ${d.hash}/0 has size 0 but is not the empty blob's hash`);
  }
}

export function createHasher(fn: DigestFunction = DEFAULT_DIGEST_FUNCTION): Hash {
  return createHash(fn);
}

export function hashBytes(data: Uint8Array, fn: DigestFunction = DEFAULT_DIGEST_FUNCTION): string {
  return createHash(fn).update(data).digest('hex');
}

export function digestOf(data: Uint8Array, fn: DigestFunction = DEFAULT_DIGEST_FUNCTION): Digest {
  return { hash: hashBytes(data, fn), sizeBytes: data.byteLength };
}

export function formatDigest(d: Digest): string {
  return `${d.hash}/${d.sizeBytes}`;
}
