// The few pieces of HTTP/2 framing (RFC 9113 4.1, 6) that the plain-text gRPC listener
// reads before nghttp2 does: the client preface, frame headers, and the header block
// fragment inside HEADERS and CONTINUATION frames.

/** What every HTTP/2 client sends first (RFC 9113 3.4). */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FRAME_HEADER_BYTES = 9;
/** SETTINGS_MAX_FRAME_SIZE's initial value, the largest frame every peer takes. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  ACK: 0x1,
  END_STREAM: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export interface FrameHeader {
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
}

/** The frame header at `offset` (which must hold 9 bytes). */
export function readFrameHeader(buf: Buffer, offset = 0): FrameHeader {
  return {
    length: buf.readUIntBE(offset, 3),
    type: buf[offset + 3]!,
    flags: buf[offset + 4]!,
    streamId: buf.readUInt32BE(offset + 5) & 0x7fff_ffff,
  };
}

export interface Frame {
  readonly header: FrameHeader;
  readonly payload: Buffer;
  /** Where the frame starts in the buffer. */
  readonly at: number;
}

/** The whole frames of `buf` from `offset` on, in order; a frame cut short at the end is not yielded. */
export function* framesIn(buf: Buffer, offset = 0): Generator<Frame> {
  let at = offset;
  while (buf.length - at >= FRAME_HEADER_BYTES) {
    const header = readFrameHeader(buf, at);
    const end = at + FRAME_HEADER_BYTES + header.length;
    if (end > buf.length) return;
    yield { header, payload: buf.subarray(at + FRAME_HEADER_BYTES, end), at };
    at = end;
  }
}

export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h.writeUIntBE(length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId, 5);
  return h;
}

/**
 * The header block fragment of a HEADERS frame's payload, without its padding and priority
 * fields; undefined when those fields do not fit in the payload (a malformed frame).
 */
export function headersFragment(payload: Buffer, flags: number): Buffer | undefined {
  let start = 0;
  let padding = 0;
  if (flags & Flag.PADDED) {
    if (payload.length < 1) return undefined;
    padding = payload[0]!;
    start = 1;
  }
  if (flags & Flag.PRIORITY) start += 5;
  if (start + padding > payload.length) return undefined;
  return payload.subarray(start, payload.length - padding);
}

/**
 * A header block as one HEADERS frame (carrying END_STREAM when `endStream`) and as many
 * CONTINUATION frames as `maxFrameSize` requires, the last with END_HEADERS.
 */
export function headerBlockFrames(
  streamId: number,
  block: Buffer,
  endStream: boolean,
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE,
): Buffer[] {
  const frames: Buffer[] = [];
  let at = 0;
  do {
    const part = block.subarray(at, at + maxFrameSize);
    at += part.length;
    const first = frames.length === 0;
    const flags = (first && endStream ? Flag.END_STREAM : 0) | (at >= block.length ? Flag.END_HEADERS : 0);
    frames.push(frameHeader(part.length, first ? FrameType.HEADERS : FrameType.CONTINUATION, flags, streamId), part);
  } while (at < block.length);
  return frames;
}
