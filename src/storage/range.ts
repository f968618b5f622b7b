// Range checks shared by every store, so all tiers reject the same offsets the same way.
import { ErrorCode, HoardError } from '../core/errors.ts';

export interface ByteRange {
  readonly start: number;
  readonly end: number; // exclusive
}

/** offset must be 0..size (offset == size is an empty read); limit 0/undefined = to the end. */
export function resolveRange(size: number, offset = 0, limit = 0): ByteRange {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
    throw new HoardError(ErrorCode.OutOfRange, `read offset ${offset} is outside the entry of ${size} bytes`);
  }
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new HoardError(ErrorCode.OutOfRange, `read limit ${limit} must be a non-negative integer`);
  }
  const end = limit === 0 ? size : Math.min(size, offset + limit);
  return { start: offset, end };
}
