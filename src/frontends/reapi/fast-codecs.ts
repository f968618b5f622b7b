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

export interface PlainDigest {
  hash: string;
  sizeBytes: number;
  /** Set by the decoder: the hash is all lower-case hex digits (its length is not checked). */
  lowerHex?: boolean;
  /** Set by the decoder: the Digest's own encoding, echoed as is when it is reported missing. */
  source?: Buffer;
  start?: number;
  end?: number;
}

// 1 for the bytes of lower-case hex digits: checking bytes here is cheaper than checking the
// string later (FindMissingBlobs carries thousands of digests).
const LOWER_HEX_BYTE = new Uint8Array(256);
for (const c of '0123456789abcdef') LOWER_HEX_BYTE[c.charCodeAt(0)] = 1;

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

function decodeDigest(buf: Buffer, start: number, end: number): PlainDigest {
  const c = new Cursor(buf, start, end);
  const d: PlainDigest = { hash: '', sizeBytes: 0, lowerHex: true, source: buf, start, end };
  while (c.pos < end) {
    const tag = c.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      const s = c.span();
      let hex = 1;
      for (let i = s; i < c.pos; i++) hex &= LOWER_HEX_BYTE[buf[i]!]!;
      d.lowerHex = hex === 1;
      // latin1 is a plain byte copy; a valid hash is ASCII, so it reads the same as UTF-8,
      // and an invalid one (any byte >= 0x80) is rejected by the hex check either way.
      d.hash = buf.toString('latin1', s, c.pos);
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

/** google.bytestream.ReadResponse { bytes data = 10; } */
export function encodeReadResponse(msg: { data: Uint8Array }): Buffer {
  const data = msg.data;
  const len = data.byteLength;
  if (len === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(1 + varintSize(len) + len);
  out[0] = 0x52; // field 10, length-delimited
  const pos = writeVarint(out, 1, len);
  out.set(data, pos);
  return out;
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
