// The byte stream between a client that sends user info in `:authority` (Bazel with
// `grpc://user:password@host`) and nghttp2, which refuses it (authority-credentials.ts).
// For such a connection's lifetime, this Duplex stands in for the socket:
//
// - server to client, bytes pass through untouched;
// - client to server, every frame passes through untouched (runs of them as slices of the
//   chunk they came in, no copy), except header blocks (HEADERS + CONTINUATION): each is
//   decoded with a decoder that mirrors the client's dynamic table, its user info moved to
//   `authorization` (moveUserinfo), and encoded again without touching the server's dynamic
//   table, as HEADERS (END_STREAM kept, padding and priority dropped) plus CONTINUATION
//   frames when it outgrows the server's frame size.
//
// A block that cannot be decoded, or breaks the framing rules a block lives by, stops the
// rewriting for good (the tables no longer agree): `onMalformed` is told, and nothing more
// goes to the server. Nothing here logs or throws a header's value.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { moveUserinfo } from './authority-credentials.ts';
import {
  CLIENT_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  Flag,
  FRAME_HEADER_BYTES,
  FrameType,
  headerBlockFrames,
  headersFragment,
  readFrameHeader,
  type FrameHeader,
} from './h2-frames.ts';
import { encodeHeaderBlock, HpackDecoder, type HeaderField } from './hpack-codec.ts';

export interface TranscoderOptions {
  /** The server's SETTINGS_MAX_HEADER_LIST_SIZE: a block decoding to more ends the connection. */
  readonly maxHeaderListSize: number;
  /** The server's SETTINGS_HEADER_TABLE_SIZE (the client's table's ceiling). */
  readonly headerTableSize?: number;
  /** A malformed header block: the connection must end (with GOAWAY, by the session). */
  readonly onMalformed: (why: string) => void;
}

interface OpenBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly fragments: Buffer[];
  size: number;
}

export class AuthorityTranscoder extends Duplex {
  readonly socket: Socket;
  readonly #options: TranscoderOptions;
  readonly #decoder: HpackDecoder;
  #prefaceLeft = CLIENT_PREFACE.length;
  /** Payload bytes of a passed-through frame still to come. */
  #passLeft = 0;
  /** The start of a frame header that ended a chunk (< 9 bytes), not yet passed on. */
  #heldHeader: Buffer | undefined;
  /** A HEADERS or CONTINUATION frame whose payload is being gathered. */
  #frame: { header: FrameHeader; parts: Buffer[]; got: number } | undefined;
  /** A header block waiting for its CONTINUATION frames. */
  #block: OpenBlock | undefined;
  #broken = false;

  #received: Buffer | undefined;
  #drained: (() => void) | undefined;

  /**
   * `socket`: the client's, paused; `received`: what was read from it before (the peek),
   * rewritten first. Nothing is read until `start()`, so the reader (the session) can be
   * in place to hear of a malformed block.
   */
  constructor(socket: Socket, received: Buffer, options: TranscoderOptions) {
    super({ allowHalfOpen: true });
    this.socket = socket;
    this.#options = options;
    this.#received = received;
    this.#decoder = new HpackDecoder(options.headerTableSize);
    socket.on('data', (chunk: Buffer) => {
      if (!this.#transcode(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
    socket.on('drain', () => {
      const drained = this.#drained;
      this.#drained = undefined;
      drained?.();
    });
  }

  start(): void {
    const received = this.#received;
    this.#received = undefined;
    if (received !== undefined && received.length > 0 && !this.#transcode(received)) return;
    this.socket.resume();
  }

  override _read(): void {
    if (!this.#broken && this.#received === undefined) this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.socket.write(chunk)) cb();
    else this.#drained = cb;
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.socket.cork();
    let ok = true;
    for (const { chunk } of chunks) ok = this.socket.write(chunk);
    this.socket.uncork();
    if (ok) cb();
    else this.#drained = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.();
    cb(err);
  }

  /** Passes `chunk` on rewritten; false when the reader wants no more for now (or rewriting stopped). */
  #transcode(chunk: Buffer): boolean {
    if (this.#broken) return false;
    const out: Buffer[] = [];
    let runStart = 0; // the start of bytes that pass as they are
    let pos = 0;
    const endRun = (end: number) => {
      if (end > runStart) out.push(chunk.subarray(runStart, end));
    };
    while (pos < chunk.length && !this.#broken) {
      if (this.#prefaceLeft > 0 || this.#passLeft > 0) {
        const n = Math.min(this.#prefaceLeft || this.#passLeft, chunk.length - pos);
        if (this.#prefaceLeft > 0) this.#prefaceLeft -= n;
        else this.#passLeft -= n;
        pos += n;
      } else if (this.#frame !== undefined) {
        const f = this.#frame;
        const n = Math.min(f.header.length - f.got, chunk.length - pos);
        f.parts.push(chunk.subarray(pos, pos + n));
        f.got += n;
        pos += n;
        runStart = pos;
        if (f.got === f.header.length) {
          this.#frame = undefined;
          this.#headerFrame(f.header, f.parts.length === 1 ? f.parts[0]! : Buffer.concat(f.parts), out);
        }
      } else {
        const held = this.#heldHeader;
        const need = FRAME_HEADER_BYTES - (held?.length ?? 0);
        if (chunk.length - pos < need) {
          endRun(pos);
          this.#heldHeader = Buffer.concat([held ?? Buffer.alloc(0), chunk.subarray(pos)]);
          pos = runStart = chunk.length;
          break;
        }
        const headerStart = pos;
        const bytes =
          held === undefined ? chunk.subarray(pos, pos + need) : Buffer.concat([held, chunk.subarray(pos, pos + need)]);
        this.#heldHeader = undefined;
        pos += need;
        const h = readFrameHeader(bytes);
        if (h.type === FrameType.HEADERS || h.type === FrameType.CONTINUATION || h.type === FrameType.PUSH_PROMISE) {
          endRun(headerStart);
          runStart = pos;
          if (h.type === FrameType.PUSH_PROMISE) this.#fail('PUSH_PROMISE from a client');
          else if (h.length > DEFAULT_MAX_FRAME_SIZE) this.#fail('a header frame larger than the frame size');
          else {
            this.#frame = { header: h, parts: [], got: 0 };
            if (h.length === 0) {
              this.#frame = undefined;
              this.#headerFrame(h, Buffer.alloc(0), out);
            }
          }
        } else if (this.#block !== undefined) {
          this.#fail('a frame inside a header block');
        } else {
          if (held !== undefined) {
            // Its first bytes ended the last chunk: pass the whole header on here.
            endRun(headerStart);
            out.push(bytes);
            runStart = pos;
          }
          this.#passLeft = h.length;
        }
      }
    }
    if (!this.#broken) endRun(pos);
    let more = true;
    for (const b of out) more = this.push(b);
    return more && !this.#broken;
  }

  /** One whole HEADERS or CONTINUATION frame: gathers its block and, at its end, rewrites it. */
  #headerFrame(h: FrameHeader, payload: Buffer, out: Buffer[]): void {
    let block = this.#block;
    if (h.type === FrameType.HEADERS) {
      const fragment = headersFragment(payload, h.flags);
      if (block !== undefined || fragment === undefined || h.streamId === 0)
        return this.#fail('a malformed HEADERS frame');
      block = { streamId: h.streamId, endStream: (h.flags & Flag.END_STREAM) !== 0, fragments: [fragment], size: 0 };
      block.size = fragment.length;
    } else {
      if (block === undefined || block.streamId !== h.streamId) return this.#fail('a CONTINUATION out of place');
      block.fragments.push(payload);
      block.size += payload.length;
    }
    if (block.size > this.#options.maxHeaderListSize) return this.#fail('a header block over the size limit');
    if (!(h.flags & Flag.END_HEADERS)) {
      this.#block = block;
      return;
    }
    this.#block = undefined;
    let fields: readonly HeaderField[];
    try {
      fields = this.#decoder.decode(Buffer.concat(block.fragments));
    } catch {
      return this.#fail('a header block that does not decode');
    }
    // RFC 9113 6.5.2: each field counts its name, value and 32 bytes.
    let listSize = 0;
    for (const f of fields) listSize += f.name.length + f.value.length + 32;
    if (listSize > this.#options.maxHeaderListSize) return this.#fail('a header list over the size limit');
    const rewritten = encodeHeaderBlock(moveUserinfo(fields));
    out.push(...headerBlockFrames(block.streamId, rewritten, block.endStream, DEFAULT_MAX_FRAME_SIZE));
  }

  #fail(why: string): void {
    if (this.#broken) return;
    this.#broken = true;
    this.socket.pause();
    this.#options.onMalformed(why);
  }
}
