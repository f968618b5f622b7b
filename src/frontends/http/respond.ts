// Writing responses for the HTTP frontends. Rule 4, server side: a connection that will
// close says `Connection: close` in the response it is sending, and Node closes it only
// after that response is fully written. `closeAfter` is the one place that decides.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { AccessRefused, causeOf, toHoardError, type HoardError } from '../../core/errors.ts';
import type { Key } from '../../core/keys.ts';
import type { Protocol } from '../../metrics/metrics.ts';
import type { Entry } from '../../storage/store.ts';
import type { HttpContext } from './http-context.ts';
import { callOf } from './http-call.ts';
import { sendFile } from './send-file.ts';
import { HTTP_STATUS } from './status.ts';

/** Unread request bodies up to this size are drained so the connection can be reused. */
const DRAINABLE_BODY_BYTES = 64 * 1024;

/**
 * Whether this response must end its connection: the server said so (draining, debug
 * flag), or a large request body is still unread (reading it only to throw it away would
 * cost the client the upload time; closing is cheaper and the client is told first).
 */
function closeAfter(req: IncomingMessage, ctx: HttpContext): boolean {
  if (ctx.closeConnections()) return true;
  if (req.complete) return false;
  const declared = req.headers['content-length'];
  if (declared === undefined) return req.headers['transfer-encoding'] !== undefined;
  return Number(declared) > DRAINABLE_BODY_BYTES;
}

/** Writes the status line and headers, adding `Connection: close` when `closeAfter` says so. */
export function writeHead(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  status: number,
  headers: OutgoingHttpHeaders,
): void {
  if (closeAfter(req, ctx)) {
    headers['connection'] = 'close';
    // The socket is gone when the client already closed; nothing to linger on then.
    if (!req.complete && req.socket !== null) lingerBeforeClosing(req.socket);
  }
  res.writeHead(status, headers);
  const length = headers['content-length'];
  const call = callOf(res);
  if (call !== undefined && length !== undefined) call.bodyBytes = req.method === 'HEAD' ? 0 : Number(length);
}

/** How long a closing connection goes on reading an unread request body after its response. */
const LINGER_MS = 2000;

/**
 * A response sent before its request's body (a refusal of a large upload) closes the
 * connection, and Node closes the socket as soon as the response is written. A socket
 * closed with unread bytes resets the connection, and a client still sending then loses the
 * response it has not read yet (EPIPE or ECONNRESET instead of the status) and may retry an
 * upload that was refused. So the socket only half-closes: the rest of the body is read and
 * dropped until the client closes its side, or LINGER_MS pass.
 */
function lingerBeforeClosing(socket: Socket): void {
  socket.destroySoon = function lingering(this: Socket) {
    this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('end', () => this.destroy());
    this.once('close', () => clearTimeout(timer));
  };
}

/** A short text answer (Bazel caps PUT response bodies at 10 KiB; keep them small). */
export function sendText(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  status: number,
  text: string,
  extra?: OutgoingHttpHeaders,
): void {
  const body = text.length > 2000 ? `${text.slice(0, 2000)}...\n` : `${text}\n`;
  const headers: OutgoingHttpHeaders = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...extra,
  };
  writeHead(req, res, ctx, status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** An empty success answer with exactly this status (Bazel PUT: 200). */
export function sendEmpty(req: IncomingMessage, res: ServerResponse, ctx: HttpContext, status: number): void {
  writeHead(req, res, ctx, status, { 'content-length': 0 });
  res.end();
}

/**
 * How a protocol words a failure, when the shared table does not suit its clients (Nx
 * ends the whole run on an unexpected status; Turborepo parses a JSON body on 403).
 * `status` picks the status for an error; `body`, when given, the answer's content type
 * and text (default: `code: message` as text/plain).
 */
export interface ErrorWording {
  status(e: HoardError): number;
  body?(e: HoardError, status: number): { readonly contentType: string; readonly text: string };
}

/**
 * Maps any failure to its status through the one table (or the protocol's wording), and
 * records its cause on the call (the chain counts and logs it): the cause stays the real
 * one whatever status the client is told. When the headers are already out (a read failed
 * mid-body) the only honest signal left is cutting the connection: the client sees fewer
 * bytes than Content-Length and discards the response.
 */
export function sendError(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  err: unknown,
  wording?: ErrorWording,
): void {
  const e = toHoardError(err);
  const call = callOf(res);
  if (call !== undefined) call.cause = causeOf(e);
  // Logged by the real fault, not by the status a protocol's wording chose to tell.
  if (HTTP_STATUS[e.code] >= 500) {
    if (call !== undefined) call.error = e;
    ctx.logger.error({ err: e, method: req.method, url: req.url }, 'request failed');
  }
  if (res.headersSent) {
    res.destroy(e);
    return;
  }
  if (res.destroyed) return;
  const status = wording === undefined ? HTTP_STATUS[e.code] : wording.status(e);
  const challenges = e instanceof AccessRefused && status === 401 ? e.challenges : [];
  const extra: OutgoingHttpHeaders | undefined =
    challenges.length === 0 ? undefined : { 'www-authenticate': [...challenges] };
  const body = wording?.body?.(e, status);
  if (body === undefined) {
    sendText(req, res, ctx, status, `${e.code}: ${e.message}`, extra);
    return;
  }
  writeHead(req, res, ctx, status, {
    'content-type': body.contentType,
    'content-length': Buffer.byteLength(body.text),
    ...extra,
  });
  res.end(req.method === 'HEAD' ? undefined : body.text);
}

/**
 * Sends an entry as the response body, with Content-Length. Bytes the store has in memory
 * go out in one write (streaming a 4 KiB blob through `pipeline` costs more than the bytes:
 * an AbortController and a DOMException per call, several ticks), and a pooled buffer is
 * handed back only once the response is fully written. Otherwise the stream is owned here
 * from now on: consumed or destroyed whatever happens. GET only (a HEAD needs no body).
 */
export async function sendEntry(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  status: number,
  entry: Entry,
  length: number,
  headers: OutgoingHttpHeaders,
): Promise<void> {
  headers['content-length'] = length;
  writeHead(req, res, ctx, status, headers);
  const bytes = entry.bytes;
  if (bytes !== undefined) {
    res.end(bytes, () => {
      // The callback also runs, with an error, when the client goes away: Node may still
      // hold the bytes then, so the buffer is left to the GC rather than reused.
      if (res.writableFinished) entry.release?.();
    });
    return;
  }
  if (entry.file !== undefined) return sendFile(res, entry.file, length);
  await pipeline(entry.stream, res);
}

/** 200 with `bytes` as the whole body, in one write (HEAD: the headers only). */
export function sendBytes(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  bytes: Uint8Array,
  headers: OutgoingHttpHeaders,
): void {
  headers['content-length'] = bytes.byteLength;
  writeHead(req, res, ctx, 200, headers);
  res.end(req.method === 'HEAD' ? undefined : bytes);
}

/** A miss: counted, and answered 404 as every HTTP cache client expects. */
export function sendMiss(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  protocol: Protocol,
  key: Key,
): void {
  ctx.metrics.lookup(protocol, key, 'miss');
  sendText(req, res, ctx, 404, 'not found');
}

/** Counts a hit and, for a GET, the `bytes` of body it sends. */
export function countHit(req: IncomingMessage, ctx: HttpContext, protocol: Protocol, key: Key, bytes: number): void {
  ctx.metrics.lookup(protocol, key, 'hit');
  if (req.method === 'GET') ctx.metrics.bytesSent(protocol, bytes);
}

/** Answers GET/HEAD for `key`: the whole entry with 200, or a 404 miss; both counted. */
export async function sendLookup(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  protocol: Protocol,
  key: Key,
  headers: OutgoingHttpHeaders,
): Promise<void> {
  const size = await sendStored(req, res, ctx, key, headers);
  if (size === undefined) sendMiss(req, res, ctx, protocol, key);
  else countHit(req, ctx, protocol, key, size);
}

/** The entry's size once sent whole with 200, or undefined on a miss (nothing sent). */
async function sendStored(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: HttpContext,
  key: Key,
  headers: OutgoingHttpHeaders,
): Promise<number | undefined> {
  const { store } = ctx;
  if (req.method === 'HEAD') {
    const size = await store.stat(key);
    if (size === undefined) return undefined;
    headers['content-length'] = size;
    writeHead(req, res, ctx, 200, headers);
    res.end();
    return size;
  }
  // One lookup: small and pooled entries come back as bytes, large ones as a stream.
  const entry = await store.get(key);
  if (entry === undefined) return undefined;
  await sendEntry(req, res, ctx, 200, entry, entry.size, headers);
  return entry.size;
}
