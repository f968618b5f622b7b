// The index journal (rule 2): an append-only log of what the store holds. Every record is
// framed as [u32 payload length][u32 crc32(payload)][payload]; on open the log is scanned
// and the first frame that is short, oversized, fails its checksum or does not parse ends
// it: that tail is cut off and everything before it is intact. Records are fully encoded by
// the caller (so encoding errors surface there); the single writer only patches the
// location fields of a put and computes the frame checksum, which cannot fail.
import { crc32 } from 'node:zlib';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import type { Key, Keyspace } from '../../core/keys.ts';

// The last two characters are the format version. 02: CAS entries of the default namespace
// are indexed under their digest bytes (01 hashed every key), so a 01 index names nothing a
// 02 store would look up; it is refused with a message instead of being read as empty.
export const JOURNAL_MAGIC = Buffer.from('HOARDJ02');
const FORMAT_FAMILY = JOURNAL_MAGIC.subarray(0, 6);
const FRAME_HEADER = 8;
const MAX_PAYLOAD = 8 * 1024;

export const Op = { Put: 1, Delete: 2, Move: 3 } as const;
export type Op = (typeof Op)[keyof typeof Op];

const KEYSPACE_CODE: Record<Keyspace, number> = { cas: 1, ac: 2, raw: 3 };
const KEYSPACE_OF: Record<number, Keyspace> = { 1: 'cas', 2: 'ac', 3: 'raw' };

// Payload layout (little endian):
//   0 op u8 | 1..33 slot
//   Put:  33 segment u32 | 37 offset f64 | 45 size f64 | 53 crc32(data) u32 | 57 keyspace u8 |
//         58 nsLen u16 | ns | idLen u16 | id
//   Move: 33 segment u32 | 37 offset f64
//   Delete: nothing more
const SLOT_AT = 1;
const SEGMENT_AT = 33;
const OFFSET_AT = 37;
const SIZE_AT = 45;
const CRC_AT = 53;
const KEYSPACE_AT = 57;
const NS_AT = 58;

export interface PutRecord {
  readonly op: typeof Op.Put;
  readonly slot: Buffer;
  readonly segment: number;
  readonly offset: number;
  readonly size: number;
  readonly dataCrc: number;
  /** Decoded lazily: replay at open only needs the location. */
  key(): Key;
}
export interface MoveRecord {
  readonly op: typeof Op.Move;
  readonly slot: Buffer;
  readonly segment: number;
  readonly offset: number;
}
export interface DeleteRecord {
  readonly op: typeof Op.Delete;
  readonly slot: Buffer;
}
export type JournalRecord = PutRecord | MoveRecord | DeleteRecord;

/** A framed record whose location fields the writer may still patch. */
export interface EncodedRecord {
  readonly frame: Buffer;
}

function frame(payloadLength: number): Buffer {
  const f = Buffer.allocUnsafe(FRAME_HEADER + payloadLength);
  f.writeUInt32LE(payloadLength, 0);
  return f;
}

export function encodePut(slot: Uint8Array, key: Key, size: number, dataCrc: number): EncodedRecord {
  const ns = Buffer.from(key.namespace);
  const id = Buffer.from(key.id);
  const len = NS_AT + 2 + ns.length + 2 + id.length;
  if (len > MAX_PAYLOAD) throw new HoardError(ErrorCode.InvalidArgument, 'key and namespace are too long to index');
  const f = frame(len);
  const p = f.subarray(FRAME_HEADER);
  p[0] = Op.Put;
  p.set(slot, SLOT_AT);
  p.writeUInt32LE(0, SEGMENT_AT);
  p.writeDoubleLE(0, OFFSET_AT);
  p.writeDoubleLE(size, SIZE_AT);
  p.writeUInt32LE(dataCrc >>> 0, CRC_AT);
  p[KEYSPACE_AT] = KEYSPACE_CODE[key.keyspace];
  p.writeUInt16LE(ns.length, NS_AT);
  ns.copy(p, NS_AT + 2);
  p.writeUInt16LE(id.length, NS_AT + 2 + ns.length);
  id.copy(p, NS_AT + 4 + ns.length);
  return { frame: f };
}

export function encodeMove(slot: Uint8Array): EncodedRecord {
  const f = frame(OFFSET_AT + 8);
  f[FRAME_HEADER] = Op.Move;
  f.set(slot, FRAME_HEADER + SLOT_AT);
  return { frame: f };
}

export function encodeDelete(slot: Uint8Array): EncodedRecord {
  const f = frame(SEGMENT_AT);
  f[FRAME_HEADER] = Op.Delete;
  f.set(slot, FRAME_HEADER + SLOT_AT);
  return { frame: f };
}

/** Writer side: fill in where a put's or move's bytes landed. */
export function setLocation(rec: EncodedRecord, segment: number, offset: number): void {
  rec.frame.writeUInt32LE(segment, FRAME_HEADER + SEGMENT_AT);
  rec.frame.writeDoubleLE(offset, FRAME_HEADER + OFFSET_AT);
}

/** Writer side: the frame checksum, computed last. */
export function seal(rec: EncodedRecord): Buffer {
  rec.frame.writeUInt32LE(crc32(rec.frame.subarray(FRAME_HEADER)), 4);
  return rec.frame;
}

export interface ScanResult {
  readonly records: JournalRecord[];
  /** Byte length of the intact prefix (header included); the file is cut here. */
  readonly validLength: number;
  /** Byte offset of each record's frame, parallel to `records`. */
  readonly positions: number[];
}

/**
 * The open path: visits every intact record without allocating per record (a million-entry
 * store must open in well under two seconds). `slot` is a view into `buf`, valid only during
 * the call; `namespace` is a put's ('' for other records), one string per run of records
 * of the same namespace. Returns the intact prefix's length; throws only for a foreign file.
 */
export function replayJournal(
  buf: Buffer,
  visit: (
    op: Op,
    slot: Buffer,
    segment: number,
    offset: number,
    size: number,
    position: number,
    namespace: string,
  ) => void,
): number {
  if (buf.length === 0) return 0;
  checkHeader(buf);
  if (buf.length < JOURNAL_MAGIC.length) return 0;
  let ns = '';
  let nsAt = 0;
  let nsLen = 0;
  let pos = JOURNAL_MAGIC.length;
  while (pos + FRAME_HEADER <= buf.length) {
    const len = buf.readUInt32LE(pos);
    if (len < SEGMENT_AT || len > MAX_PAYLOAD || pos + FRAME_HEADER + len > buf.length) break;
    const start = pos + FRAME_HEADER;
    const payload = buf.subarray(start, start + len);
    if (crc32(payload) !== buf.readUInt32LE(pos + 4)) break;
    const op = buf[start]!;
    if (op === Op.Delete && len === SEGMENT_AT) {
      visit(Op.Delete, payload.subarray(SLOT_AT, SLOT_AT + 32), 0, 0, 0, pos, '');
    } else if (op === Op.Move && len === OFFSET_AT + 8) {
      visit(
        Op.Move,
        payload.subarray(SLOT_AT, SLOT_AT + 32),
        buf.readUInt32LE(start + SEGMENT_AT),
        buf.readDoubleLE(start + OFFSET_AT),
        0,
        pos,
        '',
      );
    } else if (op === Op.Put && parsePayload(payload) !== undefined) {
      const at = start + NS_AT + 2;
      const len = buf.readUInt16LE(start + NS_AT);
      if (len !== nsLen || buf.compare(buf, nsAt, nsAt + nsLen, at, at + len) !== 0) {
        ns = len === 0 ? '' : buf.toString('utf8', at, at + len);
        nsAt = at;
        nsLen = len;
      }
      visit(
        Op.Put,
        payload.subarray(SLOT_AT, SLOT_AT + 32),
        buf.readUInt32LE(start + SEGMENT_AT),
        buf.readDoubleLE(start + OFFSET_AT),
        buf.readDoubleLE(start + SIZE_AT),
        pos,
        ns,
      );
    } else {
      break;
    }
    pos += FRAME_HEADER + len;
  }
  return pos;
}

function checkHeader(buf: Buffer): void {
  const head = buf.subarray(0, JOURNAL_MAGIC.length);
  if (JOURNAL_MAGIC.subarray(0, head.length).equals(head)) return;
  if (head.length === JOURNAL_MAGIC.length && head.subarray(0, FORMAT_FAMILY.length).equals(FORMAT_FAMILY)) {
    const found = head.subarray(FORMAT_FAMILY.length).toString('latin1');
    const wanted = JOURNAL_MAGIC.subarray(FORMAT_FAMILY.length).toString('latin1');
    throw new HoardError(
      ErrorCode.Corrupt,
      `the store was written in format ${found} and this hoard reads format ${wanted}; it has no converter for it: start with an empty directory (a cache refills itself)`,
    );
  }
  throw new HoardError(
    ErrorCode.Corrupt,
    'the journal does not start with a hoard header: is this a hoard store directory?',
  );
}

/** Parses a whole journal image. Throws only when the header is not a hoard journal. */
export function scanJournal(buf: Buffer): ScanResult {
  if (buf.length === 0) return { records: [], validLength: 0, positions: [] };
  checkHeader(buf);
  if (buf.length < JOURNAL_MAGIC.length) return { records: [], validLength: 0, positions: [] }; // torn while writing the header
  const records: JournalRecord[] = [];
  const positions: number[] = [];
  let pos = JOURNAL_MAGIC.length;
  while (pos + FRAME_HEADER <= buf.length) {
    const len = buf.readUInt32LE(pos);
    if (len < SEGMENT_AT || len > MAX_PAYLOAD || pos + FRAME_HEADER + len > buf.length) break;
    const payload = buf.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + len);
    if (crc32(payload) !== buf.readUInt32LE(pos + 4)) break;
    const rec = parsePayload(payload);
    if (!rec) break;
    records.push(rec);
    positions.push(pos);
    pos += FRAME_HEADER + len;
  }
  return { records, validLength: pos, positions };
}

function parsePayload(p: Buffer): JournalRecord | undefined {
  const slot = p.subarray(SLOT_AT, SLOT_AT + 32);
  switch (p[0]) {
    case Op.Delete:
      return p.length === SEGMENT_AT ? { op: Op.Delete, slot } : undefined;
    case Op.Move:
      if (p.length !== OFFSET_AT + 8) return undefined;
      return { op: Op.Move, slot, segment: p.readUInt32LE(SEGMENT_AT), offset: p.readDoubleLE(OFFSET_AT) };
    case Op.Put: {
      if (p.length < NS_AT + 4) return undefined;
      const keyspace = KEYSPACE_OF[p[KEYSPACE_AT]!];
      const nsLen = p.readUInt16LE(NS_AT);
      if (!keyspace || NS_AT + 4 + nsLen > p.length) return undefined;
      const idLen = p.readUInt16LE(NS_AT + 2 + nsLen);
      if (NS_AT + 4 + nsLen + idLen !== p.length) return undefined;
      return {
        op: Op.Put,
        slot,
        segment: p.readUInt32LE(SEGMENT_AT),
        offset: p.readDoubleLE(OFFSET_AT),
        size: p.readDoubleLE(SIZE_AT),
        dataCrc: p.readUInt32LE(CRC_AT),
        key: () => ({
          keyspace,
          namespace: p.toString('utf8', NS_AT + 2, NS_AT + 2 + nsLen),
          id: p.toString('utf8', NS_AT + 4 + nsLen, NS_AT + 4 + nsLen + idLen),
        }),
      };
    }
    default:
      return undefined;
  }
}
