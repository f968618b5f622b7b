// hoard's gRPC server transport, written on node:http2 for the REAPI hot path.
// grpc-js carried every call through interceptors, metadata objects, channelz and a
// message decoder that copied each request into a fresh buffer; here a request message
// that arrives in one DATA chunk is handed on as a view, a response goes out as its parts
// (no copy into a framed buffer), and flow control is ours to set: the receive windows,
// and back-pressure by pausing a stream whose messages the handler has not taken yet.
//
// What it implements of gRPC over HTTP/2 (the protocol grpc-java, Bazel's client, speaks):
// POST with content-type application/grpc[+proto]; length-prefixed messages (the
// compressed flag is refused: clients only compress when the server advertises it);
// grpc-timeout deadlines (DEADLINE_EXCEEDED); status in trailers, or a trailers-only
// response when nothing was sent; UNIMPLEMENTED for unknown methods; RESOURCE_EXHAUSTED
// above the receive limit. Connections: server keepalive pings (a peer that does not
// answer is dropped), a GOAWAY after an idle period, and a drain on shutdown that lets
// calls in flight finish before the deadline cuts them (rule 3).
import http2, {
  type Http2Session,
  type ServerHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { status } from '@grpc/grpc-js';
import { verifiedCertificateOf, type Peer } from '../../core/call.ts';
import { ErrorCode, HoardError } from '../../core/errors.ts';
import { framePrefix, GrpcFrameReader } from '../../core/grpc-frames.ts';
import { listenPlain, transcodedSocketOf, type Listener } from './plain-listener.ts';

/** A call's outcome as the client sees it. */
export interface CallStatus {
  readonly code: number;
  readonly details: string;
}

export interface MethodDefinition {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  /** Never throws: a malformed message decodes to a value the handler refuses. */
  readonly requestDeserialize: (b: Buffer) => unknown;
  /**
   * Optional, for large client-streamed messages: decodes a message from the views of the
   * chunks it arrived in, so it is never gathered into one buffer. Never throws either.
   */
  readonly requestDeserializeParts?: (parts: readonly Buffer[]) => unknown;
  /** One message as its parts, in order (sent without concatenating them). */
  readonly responseSerialize: (v: unknown) => Buffer | readonly Buffer[];
}

export type CallHandler = (call: GrpcCall) => void;

/** A service's handlers by proto method name. */
export type ServiceImplementation = Readonly<Record<string, CallHandler>>;

export interface TransportOptions {
  readonly maxReceiveMessageSize: number;
  /** Server keepalive ping interval (ms); a ping unanswered for a third of it drops the connection. 0 = none. */
  readonly keepaliveMs: number;
  /** A connection without calls for this long gets a GOAWAY (ms). 0 = never. */
  readonly connectionIdleMs: number;
  /** HTTP/2 receive window per stream: how far a client may send ahead of a handler. */
  readonly streamWindow: number;
  /** HTTP/2 receive window per connection, shared by its streams. */
  readonly connectionWindow: number;
  /** A unary request that sends nothing for this long before its end is ended (ms). 0 = no bound. */
  readonly requestIdleMs: number;
  /**
   * A call the transport answered itself, before any handler ran (unknown method, malformed
   * or oversized request, deadline): counted here, since no handler will count it.
   */
  readonly onRefused?: (refused: RefusedCall) => void;
  /** Share the port with other listeners that set it too (SO_REUSEPORT, one per request thread). */
  readonly reusePort?: boolean;
  /** Serve TLS (grpcs://) with this PEM key and certificate chain; HTTP/2 only, by ALPN. */
  readonly tls?: TlsServerOptions;
}

/** What a TLS listener is made with: PEM key and chain, and for mTLS the clients' CAs and policy. */
export interface TlsServerOptions {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca?: Buffer;
  readonly requestCert?: boolean;
  readonly rejectUnauthorized?: boolean;
}

/** A call the transport answered without a handler. */
export interface RefusedCall {
  /** The method's name, or '(unknown)' for a path that names none (metrics labels stay bounded). */
  readonly method: string;
  readonly path: string;
  readonly status: CallStatus;
  readonly startedAt: number;
  readonly headers: IncomingHttpHeaders;
  readonly peer: Peer;
}

function peerOf(stream: ServerHttp2Stream): Peer {
  // A transcoded session's own socket is a stream wrapper with no address: ask the client's.
  const socket = transcodedSocketOf(stream.session) ?? stream.session?.socket;
  return { address: socket?.remoteAddress, port: socket?.remotePort, certificate: verifiedCertificateOf(socket) };
}

const GRPC_CONTENT_TYPE = /^application\/grpc(?:\+proto)?(?:;.*)?$/;
const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
const MAX_CONCURRENT_STREAMS = 1000;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a finished call waits for its client to end the request before resetting it. */
const STOP_REQUEST_AFTER_MS = 1000;
/** Bytes a finished call still reads and drops from a client that keeps sending. */
const DISCARD_LIMIT = 1024 * 1024;

/** Percent-encoding of grpc-message (the gRPC spec's set: printable ASCII except '%'). */
function encodeGrpcMessage(s: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(s) ? s : encodeURIComponent(s);
}

/**
 * One call on one HTTP/2 stream. The transport fills `request` (unary and server-streaming
 * methods) or feeds messages to the async iterator (client-streaming) before or while the
 * handler runs; the handler answers with `write` (server-streaming) and `finish`.
 */
export class GrpcCall implements AsyncIterable<unknown> {
  readonly method: MethodDefinition;
  /** Aborted when the client cancels, the connection drops, or the deadline passes. */
  readonly signal: AbortSignal;
  /** The request's headers: the call's metadata, HTTP/2 pseudo-headers included. */
  readonly headers: IncomingHttpHeaders;
  request: unknown;
  readonly #stream: ServerHttp2Stream;
  readonly #abort = new AbortController();
  readonly #maxMessage: number;
  #deadline: NodeJS.Timeout | undefined;
  #idle: NodeJS.Timeout | undefined;
  #headersSent = false;
  #finished = false;
  #sentStatus: CallStatus | undefined;
  readonly #frames: GrpcFrameReader;
  #discarded = 0;
  // Messages not yet taken by the handler (client streaming), and a waiting taker.
  readonly #queue: (Buffer | readonly Buffer[])[] = [];
  #requestEnded = false; // the client half-closed
  #failure: Error | undefined;
  #waiter: { resolve(r: IteratorResult<unknown>): void; reject(err: unknown): void } | undefined;

  constructor(stream: ServerHttp2Stream, method: MethodDefinition, maxMessage: number, headers: IncomingHttpHeaders) {
    this.#stream = stream;
    this.headers = headers;
    this.method = method;
    this.#maxMessage = maxMessage;
    this.#frames = new GrpcFrameReader({ maxMessage });
    this.signal = this.#abort.signal;
  }

  /** The client's address, read from the connection's socket. */
  get peer(): Peer {
    return peerOf(this.#stream);
  }

  /** The status this call sent, once it sent one (never, when the client went first). */
  get sentStatus(): CallStatus | undefined {
    return this.#sentStatus;
  }

  /** True once a status went out (or the stream is gone): later outcomes are dropped. */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * Bounds a unary or server-streaming request that stops sending before its end (rule 7:
   * a stalled client must not hold a call and its buffered bytes). Re-armed by each chunk;
   * the client-streaming handlers bound their own waits (MessageReader).
   */
  watchIdle(ms: number): void {
    if (ms <= 0) return;
    this.#idle = setTimeout(() => {
      if (this.#requestEnded || this.#finished) return;
      this.#fail({
        code: status.ABORTED,
        details: `the client sent nothing for ${ms / 1000} s before ending its request (bodyIdleTimeout); the call was ended`,
      });
    }, ms);
    this.#idle.unref();
  }

  /** Arms the grpc-timeout deadline. */
  setDeadline(ms: number): void {
    // Node fires a timer above 2^31-1 ms (24.8 days) after 1 ms: a deadline that far off is none.
    if (ms > MAX_TIMER_MS) return;
    this.#deadline = setTimeout(
      () => {
        const details = `the deadline of ${Math.round(ms)} ms passed`;
        const err = new HoardError(ErrorCode.Aborted, details);
        this.#abort.abort(err);
        this.#rejectWaiter(err);
        this.finish({ code: status.DEADLINE_EXCEEDED, details });
      },
      Math.max(0, ms),
    );
    this.#deadline.unref();
  }

  /** Request bytes off the wire, split into messages. */
  onData(chunk: Buffer): void {
    if (this.#finished) {
      this.#discarded += chunk.length;
      if (this.#discarded > DISCARD_LIMIT) this.reset();
      return;
    }
    this.#idle?.refresh();
    const err = this.method.requestDeserializeParts
      ? this.#frames.pushParts(chunk, (parts) => this.#onMessage(parts))
      : this.#frames.push(chunk, (msg) => this.#onMessage(msg));
    if (err?.kind === 'compressed') {
      this.#fail({
        code: status.UNIMPLEMENTED,
        details: 'compressed gRPC messages are not supported (grpc-accept-encoding: identity)',
      });
    } else if (err?.kind === 'bad-flag') {
      this.#fail({
        code: status.INVALID_ARGUMENT,
        details: `malformed gRPC frame: its first byte (the compressed flag) is ${err.flag}, not 0 or 1`,
      });
    } else if (err?.kind === 'too-large') {
      this.#fail({
        code: status.RESOURCE_EXHAUSTED,
        details: `received a message of ${err.length} bytes, larger than the limit of ${this.#maxMessage}`,
      });
    }
  }

  #decode(msg: Buffer | readonly Buffer[]): unknown {
    return Buffer.isBuffer(msg) ? this.method.requestDeserialize(msg) : this.method.requestDeserializeParts!(msg);
  }

  #onMessage(msg: Buffer | readonly Buffer[]): void {
    if (!this.method.requestStream) {
      if (this.request !== undefined) {
        this.#fail({
          code: status.INVALID_ARGUMENT,
          details: `${this.method.path} takes one request message, got more`,
        });
        return;
      }
      this.request = this.#decode(msg);
      return;
    }
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve({ value: this.#decode(msg), done: false });
      return;
    }
    this.#queue.push(msg);
    // Back-pressure: stop reading until the handler takes what it has.
    this.#stream.pause();
  }

  /** The client half-closed. */
  onEnd(): boolean {
    this.#requestEnded = true;
    clearTimeout(this.#idle);
    if (!this.#frames.atBoundary) {
      // An upload whose connection was cut ends like this (the stream sees its end, not a
      // reset, when the peer's socket closes mid-message): ABORTED keeps what was received
      // resumable. A unary request cut short is just malformed.
      // The handler still gets the whole messages before it (its spool keeps them), then
      // the error, and its outcome is the call's status.
      if (this.method.requestStream) {
        this.#rejectWaiter(
          new HoardError(
            ErrorCode.Aborted,
            'the request stream ended inside a message (cut?); resume from QueryWriteStatus',
          ),
        );
      } else {
        this.#fail({ code: status.INVALID_ARGUMENT, details: 'the request ended inside a message' });
      }
      return false;
    }
    if (this.#waiter && this.#queue.length === 0) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
    return true;
  }

  /** The stream closed (or broke) before the call finished: the client is gone. */
  onGone(why: string): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#deadline);
    clearTimeout(this.#idle);
    const err = new HoardError(ErrorCode.Aborted, why);
    this.#abort.abort(err);
    this.#rejectWaiter(err);
  }

  #fail(s: CallStatus): void {
    const code =
      s.code === status.RESOURCE_EXHAUSTED
        ? ErrorCode.InsufficientStorage
        : s.code === status.ABORTED
          ? ErrorCode.Aborted
          : ErrorCode.InvalidArgument;
    const err = new HoardError(code, s.details);
    this.#abort.abort(err);
    this.#rejectWaiter(err);
    this.finish(s);
  }

  #rejectWaiter(err: Error): void {
    this.#failure ??= err;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(err);
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    return {
      next: () => {
        const msg = this.#queue.shift();
        if (msg !== undefined) {
          if (this.#queue.length === 0 && !this.#finished) this.#stream.resume();
          return Promise.resolve({ value: this.#decode(msg), done: false });
        }
        if (this.#failure) return Promise.reject(this.#failure);
        if (this.#requestEnded) return Promise.resolve({ value: undefined, done: true });
        this.#stream.resume();
        return new Promise((resolve, reject) => {
          this.#waiter = { resolve, reject };
        });
      },
    };
  }

  #sendHeaders(): void {
    if (this.#headersSent) return;
    this.#headersSent = true;
    this.#stream.respond(
      { ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity' },
      { waitForTrailers: true },
    );
  }

  /**
   * Sends one response message; false when the client's window is full (wait for 'drain').
   * `written` is called once the socket has taken the message's bytes, and only then: it may
   * recycle them. If the stream fails first it is never called (node may still hold them).
   */
  write(msg: unknown, written?: () => void): boolean {
    if (this.#finished || this.#stream.destroyed) {
      written?.();
      return true;
    }
    return this.#send(msg, written);
  }

  #send(msg: unknown, written?: () => void): boolean {
    this.#sendHeaders();
    const parts = this.method.responseSerialize(msg);
    const list = Buffer.isBuffer(parts) ? [parts] : (parts as readonly Buffer[]);
    const length = list.reduce((n, b) => n + b.length, 0);
    // The callback goes on the last write that carries bytes (the prefix when the message is
    // empty). node:http2 completes a write when the socket write holding its last byte
    // completes, except an empty write: that one completes as soon as nghttp2 has framed what
    // is queued before it, while those bytes may still wait for the socket; a buffer recycled
    // then reached clients as another blob's bytes (Bazel: "Expected digest ... does not
    // match received digest").
    let last = list.length - 1;
    while (last >= 0 && list[last]!.length === 0) last--;
    const done =
      written &&
      ((err?: Error | null) => {
        if (!err) written();
      });
    this.#stream.cork();
    let ok = this.#stream.write(framePrefix(length), last < 0 ? done : undefined);
    for (let i = 0; i <= last; i++)
      if (list[i]!.length > 0) ok = this.#stream.write(list[i], i === last ? done : undefined);
    this.#stream.uncork();
    return ok;
  }

  /** Resolves when the stream can take more, rejects when `signal` aborts first. */
  drained(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#stream.off('drain', onDrain);
        reject(signal.reason ?? new HoardError(ErrorCode.Aborted, 'aborted'));
      };
      const onDrain = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal.aborted) return onAbort();
      this.#stream.once('drain', onDrain);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Ends the call: an OK status after `response` (if given) or an error status. A call
   * that already finished, or whose client is gone, ignores it.
   */
  finish(s: CallStatus, response?: unknown): void {
    clearTimeout(this.#deadline);
    clearTimeout(this.#idle);
    if (this.#finished || this.#stream.destroyed || this.#stream.closed) {
      this.#finished = true;
      return;
    }
    this.#finished = true;
    this.#sentStatus = s;
    const trailers = { 'grpc-status': String(s.code), 'grpc-message': encodeGrpcMessage(s.details) };
    // Whatever the client still sends is read and dropped (bounded), so it sees the status
    // instead of a stalled upload.
    this.#queue.length = 0;
    this.#stream.resume();
    if (!this.#headersSent && response === undefined) {
      this.#headersSent = true;
      this.#stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...trailers }, { endStream: true });
      this.#stopRequest();
      return;
    }
    if (response !== undefined) this.#send(response);
    this.#sendHeaders();
    this.#stream.once('wantTrailers', () => {
      if (this.#stream.destroyed) return;
      this.#stream.sendTrailers(trailers);
      this.#stopRequest();
    });
    this.#stream.end();
  }

  /**
   * After the status, a client that has not half-closed is expected to stop (gRPC clients
   * end the call on the status). One that neither ends nor stops is told to with
   * RST_STREAM(NO_ERROR), as HTTP/2 allows after a complete response; not at once, since a
   * reset sent right behind the trailers can overtake them and the client would lose the status.
   */
  #stopRequest(): void {
    if (this.#requestEnded) return;
    setTimeout(() => {
      if (!this.#requestEnded && !this.#stream.destroyed) this.#stream.close(http2.constants.NGHTTP2_NO_ERROR);
    }, STOP_REQUEST_AFTER_MS).unref();
  }

  /** RST_STREAM(CANCEL): for a client that stopped reading, which a status would queue behind. */
  reset(): void {
    if (!this.#stream.destroyed) this.#stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}

export interface GrpcTransport {
  readonly port: number;
  /** Stops accepting connections and calls; calls in flight get until `deadlineMs`, then are cut. */
  shutdown(deadlineMs: number): Promise<void>;
  /** Cuts every connection now (also during a shutdown's drain). */
  destroy(): void;
  /** A new TLS key and certificate for the connections that come next (those open keep theirs). */
  setKeyPair(pair: { readonly key: Buffer; readonly cert: Buffer; readonly ca?: Buffer }): void;
}

interface SessionState {
  streams: number;
  idle: NodeJS.Timeout | undefined;
  keepalive: NodeJS.Timeout | undefined;
}

export async function listenGrpc(
  host: string,
  port: number,
  methods: ReadonlyMap<string, { definition: MethodDefinition; handler: CallHandler }>,
  options: TransportOptions,
  onInternalError: (err: unknown) => void,
): Promise<GrpcTransport> {
  const serverOptions = {
    // Concurrent calls per connection: Node's default is unbounded (2^32-1). Bazel runs up
    // to a few hundred calls at once across its connections; a client asking for more
    // waits for a slot (gRPC clients queue), and one connection cannot pile up calls.
    settings: {
      initialWindowSize: options.streamWindow,
      maxHeaderListSize: 64 * 1024,
      maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
    },
    // Node's default (10 MB) refuses streams under load; memory is bounded by the windows.
    maxSessionMemory: 1024,
  };
  const tls = options.tls;
  const server: http2.Http2Server | http2.Http2SecureServer =
    tls === undefined
      ? http2.createServer(serverOptions)
      : http2.createSecureServer({ ...serverOptions, ...tls, allowHTTP1: false });
  const sessions = new Map<Http2Session, SessionState>();
  let closing = false;

  server.on('session', (session: Http2Session) => {
    const state: SessionState = { streams: 0, idle: undefined, keepalive: undefined };
    sessions.set(session, state);
    session.on('error', () => undefined); // surfaced to the calls on it as stream closes
    session.setLocalWindowSize(options.connectionWindow);
    armIdle(session, state);
    if (options.keepaliveMs > 0) {
      state.keepalive = setInterval(() => keepalivePing(session, options.keepaliveMs), options.keepaliveMs);
      state.keepalive.unref();
    }
    session.once('close', () => {
      clearTimeout(state.idle);
      clearInterval(state.keepalive);
      sessions.delete(session);
    });
  });

  function armIdle(session: Http2Session, state: SessionState): void {
    clearTimeout(state.idle);
    state.idle = undefined;
    if (options.connectionIdleMs > 0 && state.streams === 0) {
      state.idle = setTimeout(() => session.close(), options.connectionIdleMs);
      state.idle.unref();
    }
  }

  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', () => undefined); // a reset stream must not crash the process
    const session = stream.session;
    const state = session ? sessions.get(session) : undefined;
    if (closing) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (state && session) {
      state.streams++;
      clearTimeout(state.idle);
      stream.once('close', () => {
        state.streams--;
        armIdle(session, state);
      });
    }
    try {
      startCall(stream, headers);
    } catch (err) {
      onInternalError(err);
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    }
  });

  function startCall(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    // A refused call's request is read and dropped, so a client still sending does not
    // hold the stream open.
    const refuse = (reply: OutgoingHttpHeaders) => {
      stream.respond(reply, { endStream: true });
      stream.resume();
    };
    if (headers[':method'] !== 'POST') return refuse({ ':status': 405 });
    if (!GRPC_CONTENT_TYPE.test(String(headers['content-type'] ?? ''))) return refuse({ ':status': 415 });
    const path = String(headers[':path'] ?? '');
    const entry = methods.get(path);
    const startedAt = performance.now();
    if (!entry) {
      const details = `unknown method ${path}`;
      // Not labelled by path: clients choose it, and metrics labels must stay bounded.
      options.onRefused?.({
        method: '(unknown)',
        path,
        status: { code: status.UNIMPLEMENTED, details },
        startedAt,
        headers,
        peer: peerOf(stream),
      });
      return refuse({
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': String(status.UNIMPLEMENTED),
        'grpc-message': encodeGrpcMessage(details),
      });
    }
    const call = new GrpcCall(stream, entry.definition, options.maxReceiveMessageSize, headers);
    let dispatched = false;
    const timeout = headers['grpc-timeout'];
    if (typeof timeout === 'string') {
      const m = TIMEOUT.exec(timeout);
      if (m) call.setDeadline(Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]!);
    }
    stream.on('data', (chunk: Buffer) => call.onData(chunk));
    stream.once('close', () => {
      call.onGone(
        `the client cancelled the call (${stream.rstCode === http2.constants.NGHTTP2_NO_ERROR ? 'stream closed' : `RST_STREAM ${stream.rstCode}`})`,
      );
      if (!dispatched && call.sentStatus) {
        options.onRefused?.({
          method: path.slice(path.lastIndexOf('/') + 1),
          path,
          status: call.sentStatus,
          startedAt,
          headers,
          peer: call.peer,
        });
      }
    });
    if (entry.definition.requestStream) {
      stream.once('end', () => call.onEnd());
      dispatched = true;
      entry.handler(call);
      return;
    }
    // Unary and server-streaming calls start with their one request message in hand.
    call.watchIdle(options.requestIdleMs);
    stream.once('end', () => {
      if (!call.onEnd() || call.finished) return;
      if (call.request === undefined) {
        call.finish({
          code: status.INVALID_ARGUMENT,
          details: `${path} needs a request message, the client sent none`,
        });
        return;
      }
      dispatched = true;
      entry.handler(call);
    });
  }

  function keepalivePing(session: Http2Session, intervalMs: number): void {
    if (session.destroyed || session.closed) return;
    const timer = setTimeout(() => session.destroy(), Math.ceil(intervalMs / 3));
    timer.unref();
    try {
      session.ping((err) => {
        clearTimeout(timer);
        if (err && !session.destroyed) session.destroy();
      });
    } catch {
      clearTimeout(timer); // too many pings outstanding or session closing: try next time
    }
  }

  // Plain text: a listener of ours in front of the server (plain-listener.ts), which hands
  // each connection on natively, or rewritten when Bazel put credentials in :authority.
  const listener: Listener =
    tls === undefined
      ? await listenPlain(server as http2.Http2Server, host, port, {
          reusePort: options.reusePort ?? false,
          settings: serverOptions.settings,
        })
      : await listenTls(server, host, port, options.reusePort ?? false);
  server.on('error', onInternalError);

  let shutting: Promise<void> | undefined;
  const destroyAll = () => {
    for (const s of sessions.keys()) s.destroy();
  };
  const cutAll = () => {
    destroyAll();
    listener.destroyConnections();
  };
  return {
    port: listener.port,
    destroy(): void {
      closing = true;
      listener.close();
      cutAll();
    },
    setKeyPair(pair): void {
      if (!('setSecureContext' in server)) throw new Error('this gRPC listener does not serve TLS');
      server.setSecureContext(pair);
    },
    shutdown(deadlineMs: number): Promise<void> {
      shutting ??= new Promise<void>((resolve) => {
        closing = true;
        const timer = setTimeout(cutAll, Math.max(0, deadlineMs));
        listener.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // GOAWAY: clients start no new calls here; open calls run to their end.
        for (const s of sessions.keys()) s.close();
      });
      return shutting;
    },
  };
}

/** The TLS server listening on its own (TLS connections are never peeked at or rewritten). */
async function listenTls(
  server: http2.Http2SecureServer | http2.Http2Server,
  host: string,
  port: number,
  reusePort: boolean,
): Promise<Listener> {
  server.on('connection', (socket: Socket) => socket.setNoDelay(true));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, reusePort }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: (onClosed) => server.close(() => onClosed?.()),
    destroyConnections: () => undefined, // destroying the sessions closes their sockets
  };
}
