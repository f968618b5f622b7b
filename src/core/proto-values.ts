// The values of decoded protobuf messages every layer reads the same way: int64 fields,
// bytes fields, and REAPI Digest messages (checked, with the field named in the error).
import { checkDigest, type Digest } from './digest.ts';
import { ErrorCode, HoardError } from './errors.ts';

/** An int64 field as protobufjs decodes it: a Long when the `long` package is loaded. */
export type Int64 = number | { toNumber(): number };

/** int64 -> number (unset: 0). Beyond 2^53 precision is lost; checkDigest refuses those sizes. */
export function int64(v: Int64 | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** A `bytes` field as a Buffer view (protobufjs uses `[]` for an unset field). */
export function bytesOf(v: Uint8Array | readonly number[] | null | undefined): Buffer {
  if (!v || v.length === 0) return EMPTY;
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return Buffer.from(v as number[]);
}
const EMPTY = Buffer.alloc(0);

/** A decoded Digest message. */
export interface DigestMessage {
  hash?: string;
  sizeBytes?: Int64;
}

/** A Digest message, checked (InvalidArgument naming `field`, also when it is missing). */
export function digestOfMessage(msg: DigestMessage | null | undefined, field: string): Digest {
  if (!msg) throw new HoardError(ErrorCode.InvalidArgument, `${field} is missing`);
  const d: Digest = { hash: msg.hash ?? '', sizeBytes: int64(msg.sizeBytes) };
  try {
    checkDigest(d);
  } catch (err) {
    throw new HoardError(ErrorCode.InvalidArgument, `${field}: ${(err as Error).message}`);
  }
  return d;
}
