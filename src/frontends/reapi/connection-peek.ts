// The first look at a new plain-text gRPC connection, before nghttp2 gets it: read the
// client's preface and frames up to its first complete header block, and learn the first
// request's `:authority` (plain-listener.ts decides from it whether the connection
// needs its header blocks rewritten).
//
// gRPC clients (grpc-java, so Bazel; grpc-js) send no request before the server's SETTINGS
// arrive, so the peek sends one itself once the client's preface is in: it carries only what
// is safe for the client to act on before nghttp2's own SETTINGS follow (those are in force
// for nghttp2 only once acknowledged), and the client's acknowledgement of it is cut from
// the bytes handed on, since nghttp2 would take an acknowledgement of a SETTINGS it never
// sent as a protocol error.
//
// Anything unexpected (not HTTP/2, a malformed frame or block, more than `maxBytes`, no
// header block within `timeoutMs`) ends the peek with no authority: the connection is then
// handed on as it is, and nghttp2 answers it as it always did.
import type { Socket } from 'node:net';
import {
  CLIENT_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  Flag,
  FRAME_HEADER_BYTES,
  FrameType,
  frameHeader,
  headersFragment,
  readFrameHeader,
} from './h2-frames.ts';
import { HpackDecoder } from './hpack-codec.ts';

export interface PeekOutcome {
  /** Everything the client sent so far, less the acknowledgement of the peek's SETTINGS. */
  readonly bytes: Buffer;
  /** The first request's `:authority`; undefined when the peek ended on something unexpected (or it had none). */
  readonly authority: string | undefined;
}

export interface PeekOptions {
  /** The SETTINGS frame's payload (http2.getPackedSettings of the early-safe settings). */
  readonly settings: Buffer;
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/**
 * Reads from `socket` until the first request's header block is in and the peek's SETTINGS
 * acknowledged, then calls `done` once, synchronously inside the last 'data' event, with the
 * socket paused and its 'data' listener gone: the caller hands the bytes on. A socket that
 * closes or fails first is destroyed and `done` is never called. Returns a cancel function
 * (the caller destroys the socket itself then).
 */
export function peekFirstRequest(
  socket: Socket,
  options: PeekOptions,
  done: (outcome: PeekOutcome) => void,
): () => void {
  let received: Buffer = Buffer.alloc(0);
  let settingsSent = false;
  let offset = CLIENT_PREFACE.length; // the next frame not yet looked at
  let frames = 0;
  let ackAt = -1; // offset of the SETTINGS acknowledgement to cut
  let block: Buffer[] | undefined; // the first header block's fragments, while it arrives
  let authority: string | undefined;
  let blockDone = false;
  let finished = false;

  const finish = (found: boolean) => {
    if (finished) return;
    finished = true;
    socket.pause(); // before the 'data' listener goes: a flowing socket without one drops what it reads
    stop();
    const bytes =
      ackAt < 0
        ? received
        : Buffer.concat([received.subarray(0, ackAt), received.subarray(ackAt + FRAME_HEADER_BYTES)]);
    done({ bytes, authority: found ? authority : undefined });
  };
  const onData = (chunk: Buffer) => {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
    const verdict = look();
    if (verdict === 'wait' && received.length <= options.maxBytes) return;
    finish(verdict === 'found');
  };
  const onGone = () => {
    stop();
    socket.destroy();
  };
  const timer = setTimeout(() => finish(false), options.timeoutMs);
  timer.unref();
  const stop = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onGone);
    socket.off('error', onGone);
    socket.off('close', onGone);
  };
  socket.on('data', onData);
  socket.once('end', onGone);
  socket.once('error', onGone);
  socket.once('close', onGone);

  /** 'found': block and acknowledgement in; 'wait': more to read; 'unexpected': hand it on as is. */
  function look(): 'found' | 'wait' | 'unexpected' {
    const preface = received.subarray(0, CLIENT_PREFACE.length);
    if (!preface.equals(CLIENT_PREFACE.subarray(0, preface.length))) return 'unexpected';
    if (preface.length < CLIENT_PREFACE.length) return 'wait';
    if (!settingsSent) {
      settingsSent = true;
      socket.write(Buffer.concat([frameHeader(options.settings.length, FrameType.SETTINGS, 0, 0), options.settings]));
    }
    while (received.length - offset >= FRAME_HEADER_BYTES) {
      const h = readFrameHeader(received, offset);
      if (h.length > DEFAULT_MAX_FRAME_SIZE) return 'unexpected';
      if (received.length - offset - FRAME_HEADER_BYTES < h.length) return 'wait';
      const payload = received.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + h.length);
      // The client's preface ends with a SETTINGS frame (RFC 9113 3.4).
      if (frames++ === 0 && (h.type !== FrameType.SETTINGS || h.flags & Flag.ACK)) return 'unexpected';
      if (h.type === FrameType.SETTINGS && h.flags & Flag.ACK && ackAt < 0) {
        if (h.length !== 0 || h.streamId !== 0) return 'unexpected';
        ackAt = offset;
      } else if (!blockDone && (h.type === FrameType.HEADERS || block !== undefined)) {
        const fragment =
          h.type === FrameType.HEADERS && block === undefined
            ? headersFragment(payload, h.flags)
            : h.type === FrameType.CONTINUATION
              ? payload
              : undefined;
        if (fragment === undefined) return 'unexpected';
        (block ??= []).push(fragment);
        if (h.flags & Flag.END_HEADERS) {
          blockDone = true;
          if (!readAuthority(Buffer.concat(block))) return 'unexpected';
        }
      }
      offset += FRAME_HEADER_BYTES + h.length;
    }
    return blockDone && ackAt >= 0 ? 'found' : 'wait';
  }

  function readAuthority(headerBlock: Buffer): boolean {
    try {
      // A fresh decoder: the connection's dynamic table starts empty.
      authority = new HpackDecoder().decode(headerBlock).find((f) => f.name === ':authority')?.value;
      return true;
    } catch {
      return false;
    }
  }

  return () => {
    finished = true;
    stop();
  };
}
