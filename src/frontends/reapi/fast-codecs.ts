// Hand-written protobuf codecs for hot messages. ReadResponse: one allocation for the
// whole message instead of protobufjs' writer buffer plus its copy (every ByteStream Read
// chunk goes through it; 128 KiB buffers are what the GC spends its time on).
// FindMissingBlobs (a call carries up to ~15k digests): protobufjs builds a Long per int64 and a message object per
// Digest; here a digest is a plain {hash, sizeBytes} and the reply is encoded into one
// buffer sized up front. Field numbers: FindMissingBlobsRequest instance_name = 1,
// blob_digests = 2, digest_function = 3; FindMissingBlobsResponse missing_blob_digests = 2;
// Digest hash = 1, size_bytes = 2. Unknown fields are skipped, as protobuf requires.
// GetTreeResponse: stored Directory bytes embedded as they are (see its encoder).
// The integration tests encode requests and decode replies with protobufjs, so the two
// implementations are checked against each other on every run.
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { Key } from '../../core/keys.ts';

export interface PlainDigest {
  readonly hash: string;
  /** Set by the decoder: this digest as the blob's CAS key in the default namespace. */
  readonly keyspace?: 'cas';
  readonly sizeBytes: number;
  /** Set by the decoder: the hash is all lower-case hex digits (its length is not checked). */
  readonly lowerHex?: boolean;
  /** Set by the decoder for a hash of 64 lower-case hex digits: its 32 bytes. */
  readonly bytes?: Buffer;
  /** Set by the decoder: the Digest's own encoding, echoed as is when it is reported missing. */
  readonly source?: Buffer;
  readonly start?: number;
  readonly end?: number;
}

/**
 * A decoded Digest whose hash string is made only if something asks for it (the fast path
 * never does). It is also the CAS key of the blob in the default namespace (`Key.digest`
 * carries the decoded bytes), so FindMissingBlobs makes no key object per digest.
 */
class DecodedDigest implements PlainDigest, Key {
  readonly keyspace = 'cas' as const;
  readonly namespace = '';
  sizeBytes = 0;
  lowerHex = true;
  bytes: Buffer | undefined = undefined;
  readonly source: Buffer;
  readonly start: number;
  readonly end: number;
  hashStart = 0;
  hashEnd = 0;
  #hash: string | undefined;

  constructor(source: Buffer, start: number, end: number) {
    this.source = source;
    this.start = start;
    this.end = end;
  }

  get id(): string {
    return this.hash;
  }

  get digest(): Buffer | undefined {
    return this.bytes;
  }

  get hash(): string {
    // latin1 is a plain byte copy; a valid hash is ASCII, so it reads the same as UTF-8,
    // and an invalid one (any byte >= 0x80) is rejected by the hex check either way.
    return (this.#hash ??= this.source.toString('latin1', this.hashStart, this.hashEnd));
  }
}

// The value of each lower-case hex digit's byte, -1 for every other byte: checking and
// decoding bytes here is cheaper than making a string and decoding it later
// (FindMissingBlobs carries thousands of digests).
const NIBBLE = new Int8Array(256).fill(-1);
for (let c = 0; c < 16; c++) NIBBLE['0123456789abcdef'.charCodeAt(c)] = c;
const SHA256_HEX = 64;

export interface FindMissingRequestPlain {
  instanceName: string;
  blobDigests: PlainDigest[];
  digestFunction: number;
}

class Cursor {
  pos: number;
  readonly buf: Buffer;
  readonly end: number;
  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** A varint as a number; values past 2^53 lose precision (sizes are range-checked later). */
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw malformed('varint longer than 10 bytes');
  }

  /** [start, end) of a length-delimited field's payload. */
  span(): number {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw malformed('length-delimited field runs past its message');
    this.pos = start + len;
    return start;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.span();
    else if (wire === 5) this.pos += 4;
    else throw malformed(`unsupported wire type ${wire}`);
    if (this.pos > this.end) throw malformed('field runs past its message');
  }
}

export function decodeFindMissingRequest(buf: Buffer): FindMissingRequestPlain {
  const c = new Cursor(buf, 0, buf.byteLength);
  const out: FindMissingRequestPlain = { instanceName: '', blobDigests: [], digestFunction: 0 };
  while (c.pos < c.end) {
    const tag = c.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      const start = c.span();
      out.instanceName = buf.toString('utf8', start, c.pos);
    } else if (field === 2 && wire === 2) {
      const start = c.span();
      out.blobDigests.push(decodeDigest(buf, start, c.pos));
    } else if (field === 3 && wire === 0) {
      out.digestFunction = c.varint();
    } else {
      c.skip(wire);
    }
  }
  return out;
}

/** Checks and decodes the 64 hex digits at `s` into the digest's bytes. */
function decodeSha256Hex(buf: Buffer, s: number, d: DecodedDigest): void {
  const bytes = Buffer.allocUnsafe(SHA256_HEX / 2);
  let bad = 0;
  for (let i = 0; i < SHA256_HEX / 2; i++) {
    const hi = NIBBLE[buf[s + 2 * i]!]!;
    const lo = NIBBLE[buf[s + 2 * i + 1]!]!;
    bad |= hi | lo;
    bytes[i] = (hi << 4) | lo;
  }
  d.lowerHex = bad >= 0;
  d.bytes = d.lowerHex ? bytes : undefined;
}

function decodeDigest(buf: Buffer, start: number, end: number): PlainDigest {
  const d = new DecodedDigest(buf, start, end);
  // The shape every client sends: hash (tag 0x0a, 64 digits), then size_bytes (tag 0x10).
  const sizeAt = start + 2 + SHA256_HEX;
  if (buf[start] === 0x0a && buf[start + 1] === SHA256_HEX && sizeAt < end && buf[sizeAt] === 0x10) {
    let size = 0;
    let mul = 1;
    let pos = sizeAt + 1;
    while (pos < end && pos < sizeAt + 9) {
      const b = buf[pos++]!;
      size += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) break;
    }
    if (pos === end && buf[end - 1]! < 0x80) {
      d.hashStart = start + 2;
      d.hashEnd = sizeAt;
      d.sizeBytes = size;
      decodeSha256Hex(buf, start + 2, d);
      return d;
    }
  }
  const c = new Cursor(buf, start, end);
  while (c.pos < end) {
    const tag = c.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      const s = c.span();
      d.hashStart = s;
      d.hashEnd = c.pos;
      if (c.pos - s === SHA256_HEX) decodeSha256Hex(buf, s, d);
      else {
        let bad = 0;
        for (let i = s; i < c.pos; i++) bad |= NIBBLE[buf[i]!]!;
        d.lowerHex = bad >= 0;
        d.bytes = undefined;
      }
    } else if (field === 2 && wire === 0) {
      d.sizeBytes = c.varint();
    } else {
      c.skip(wire);
    }
  }
  return d;
}

export function encodeFindMissingResponse(msg: { missingBlobDigests: readonly PlainDigest[] }): Buffer {
  const digests = msg.missingBlobDigests;
  let total = 0;
  const lens = new Array<number>(digests.length);
  for (let i = 0; i < digests.length; i++) {
    const d = digests[i]!;
    let inner: number;
    if (d.source !== undefined) inner = d.end! - d.start!;
    else {
      const hashLen = Buffer.byteLength(d.hash);
      inner = 1 + varintSize(hashLen) + hashLen + (d.sizeBytes === 0 ? 0 : 1 + varintSize(d.sizeBytes));
    }
    lens[i] = inner;
    total += 1 + varintSize(inner) + inner;
  }
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < digests.length; i++) {
    const d = digests[i]!;
    out[pos++] = 0x12; // field 2, length-delimited
    pos = writeVarint(out, pos, lens[i]!);
    if (d.source !== undefined) {
      // The request's own bytes for this Digest (unknown fields included, as protobuf keeps them).
      pos += d.source.copy(out, pos, d.start, d.end);
      continue;
    }
    out[pos++] = 0x0a; // Digest.hash
    pos = writeVarint(out, pos, Buffer.byteLength(d.hash));
    pos += out.write(d.hash, pos, 'utf8');
    if (d.sizeBytes !== 0) {
      out[pos++] = 0x10; // Digest.size_bytes
      pos = writeVarint(out, pos, d.sizeBytes);
    }
  }
  return out;
}

/**
 * GetTreeResponse { repeated Directory directories = 1; string next_page_token = 2; } with
 * each Directory given as its stored encoding and sent unchanged: re-encoding would drop
 * unknown fields and explicit defaults, so a returned directory would no longer hash to
 * the digest that names it.
 */
export function encodeGetTreeResponse(msg: { directories: readonly Uint8Array[]; nextPageToken: string }): Buffer {
  const tokenLen = Buffer.byteLength(msg.nextPageToken);
  let total = tokenLen === 0 ? 0 : 1 + varintSize(tokenLen) + tokenLen;
  for (const d of msg.directories) total += 1 + varintSize(d.byteLength) + d.byteLength;
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (const d of msg.directories) {
    out[pos++] = 0x0a; // field 1, length-delimited
    pos = writeVarint(out, pos, d.byteLength);
    out.set(d, pos);
    pos += d.byteLength;
  }
  if (tokenLen > 0) {
    out[pos++] = 0x12; // field 2, length-delimited
    pos = writeVarint(out, pos, tokenLen);
    out.write(msg.nextPageToken, pos, 'utf8');
  }
  return out;
}

/**
 * google.bytestream.ReadResponse { bytes data = 10; } as its parts: the field's tag and
 * length, then the data itself, so the transport sends a Read's bytes without copying them.
 */
export function encodeReadResponseParts(msg: { data: Uint8Array }): Buffer[] {
  const data = msg.data;
  const len = data.byteLength;
  if (len === 0) return [];
  const head = Buffer.allocUnsafe(1 + varintSize(len));
  head[0] = 0x52; // field 10, length-delimited
  writeVarint(head, 1, len);
  return [head, Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, len)];
}

function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: number): number {
  while (v >= 128) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

function malformed(why: string): HoardError {
  return new HoardError(ErrorCode.InvalidArgument, `malformed FindMissingBlobsRequest: ${why}`);
}
