// Consumes a put body: counts bytes, hashes them for CAS keys, and enforces the declared
// size and the byte limit as the bytes arrive (an oversize body fails at the first extra
// byte, not at the end; a declared size over the limit fails before the first).
// The sink sees each chunk once; the verdict comes after the last one.
import type { Hash } from 'node:crypto';
import { createHasher, DEFAULT_DIGEST_FUNCTION, type DigestFunction } from './digest.ts';
import { ErrorCode, HoardError, toHoardError } from './errors.ts';

export interface ReceiveOptions {
  /** Declared size; undefined when the sender did not say (raw keys only). */
  readonly size?: number;
  /** Expected content hash (CAS); undefined means "don't hash". */
  readonly hash?: string;
  readonly digestFunction?: DigestFunction;
  /**
   * `hash`'s digest of the body as the body's producer computed it, read after its last
   * chunk (sha256 only): then the bytes are not hashed here, and this is what must match.
   */
  readonly bodyHash?: () => string | undefined;
  readonly signal?: AbortSignal;
  /** Refuse bodies over this many bytes, whatever was declared. */
  readonly maxBytes?: number;
  /**
   * What a body over `maxBytes` is: TooLarge (the default) for a per-entry limit,
   * InsufficientStorage when the bound is the store's whole size, so a declared and a
   * chunked body of one size get one answer.
   */
  readonly overLimit?: typeof ErrorCode.TooLarge | typeof ErrorCode.InsufficientStorage;
}

export interface Received {
  readonly size: number;
}

/**
 * Feeds every chunk of `body` to `sink` (awaited, so a slow disk applies back-pressure),
 * then checks size and hash. Throws HoardError: SizeMismatch, DigestMismatch, TooLarge, Aborted.
 */
export async function receive(
  body: Uint8Array | AsyncIterable<Uint8Array>,
  options: ReceiveOptions,
  sink: (chunk: Uint8Array) => void | Promise<void>,
): Promise<Received> {
  const hashedBefore =
    options.bodyHash !== undefined && (options.digestFunction ?? DEFAULT_DIGEST_FUNCTION) === 'sha256';
  const hasher: Hash | undefined =
    options.hash === undefined || hashedBefore ? undefined : createHasher(options.digestFunction);
  const declared = options.size ?? Number.POSITIVE_INFINITY;
  const max = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const tooLarge = () =>
    options.overLimit === ErrorCode.InsufficientStorage
      ? new HoardError(ErrorCode.InsufficientStorage, `entry exceeds the store's bound of ${max} bytes`)
      : new HoardError(ErrorCode.TooLarge, `entry exceeds the limit of ${max} bytes`);
  if (declared !== Number.POSITIVE_INFINITY && declared > max) throw tooLarge(); // before reading a byte
  let total = 0;
  const take = async (chunk: Uint8Array): Promise<void> => {
    total += chunk.byteLength;
    if (total > max) throw tooLarge();
    if (total > declared)
      throw new HoardError(ErrorCode.SizeMismatch, `received more than the declared ${declared} bytes`);
    hasher?.update(chunk);
    const pending = sink(chunk);
    if (pending) await pending;
  };
  try {
    if (body instanceof Uint8Array) {
      await take(body);
    } else {
      for await (const chunk of body) {
        options.signal?.throwIfAborted();
        await take(chunk);
      }
    }
    options.signal?.throwIfAborted();
  } catch (err) {
    throw toHoardError(err);
  }
  if (options.size !== undefined && total !== options.size) {
    throw new HoardError(
      ErrorCode.SizeMismatch,
      `received ${total} bytes but ${options.size} were declared: the body was truncated`,
    );
  }
  if (options.hash !== undefined) {
    const actual = hashedBefore
      ? (options.bodyHash!() ?? 'nothing (the body came without its hash)')
      : hasher!.digest('hex');
    if (actual !== options.hash) {
      throw new HoardError(
        ErrorCode.DigestMismatch,
        `content hashes to ${actual}, not to the ${options.hash} it was uploaded as`,
      );
    }
  }
  return { size: total };
}
