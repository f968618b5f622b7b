// The checks every store makes before it reads a put's body: a valid key, a declared size
// for CAS (the digest names it), and a declared size within the store's bound (refused at
// once, not after the body has been read); and how every store then reads it.
import { ErrorCode, HoardError } from '../core/errors.ts';
import { checkKey, type Key } from '../core/keys.ts';
import type { ReceiveOptions } from '../core/receive.ts';
import type { PutOptions } from './store.ts';

/** Throws InvalidArgument or InsufficientStorage; `maxBytes` 0 means unbounded. */
export function checkPut(key: Key, options: PutOptions, maxBytes: number): void {
  checkKey(key);
  if (key.keyspace === 'cas' && options.size === undefined) {
    throw new HoardError(ErrorCode.InvalidArgument, 'a CAS put needs the declared size');
  }
  if (options.size !== undefined && maxBytes > 0 && options.size > maxBytes) {
    throw new HoardError(
      ErrorCode.InsufficientStorage,
      `entry of ${options.size} bytes exceeds the store's bound of ${maxBytes}`,
    );
  }
}

/** How a store reads a put's body: the declared size, the CAS hash to verify, the caller's
 *  signal, and the smaller of the store's bound (`maxBytes`, 0 = none) and the caller's. */
export function putReceiveOptions(key: Key, options: PutOptions, maxBytes: number): ReceiveOptions {
  const storeBound = maxBytes || Number.POSITIVE_INFINITY;
  const callerBound = options.maxBytes ?? Number.POSITIVE_INFINITY;
  return {
    size: options.size,
    hash: key.keyspace === 'cas' ? key.id : undefined,
    signal: options.signal,
    bodyHash: options.bodySha256,
    maxBytes: Math.min(storeBound, callerBound),
    // Over the store's whole bound is 507 as checkPut says for a declared size, not 413.
    overLimit: storeBound < callerBound ? ErrorCode.InsufficientStorage : ErrorCode.TooLarge,
  };
}
