// The plain-text (grpc://) listener in front of the HTTP/2 server. It accepts each
// connection itself, peeks at the first request (connection-peek.ts), and hands the
// connection to the HTTP/2 server one of two ways:
//
// - natively, when the first request's `:authority` has no user info (every client but Bazel
//   with `grpc://user:password@host`): what was read goes back into the socket (unshift) and
//   the socket itself is the server's connection, so nghttp2 reads it straight from libuv
//   with no JavaScript in the byte path, as fast as a listener the server owns;
// - through an AuthorityTranscoder, when it has user info: for the connection's lifetime,
//   header blocks are rewritten to carry the user info as `authorization` metadata
//   (authority-transcoder.ts), since nghttp2 resets any stream whose authority has it.
//
// TLS listeners do not come here: a TLS client sends metadata (Debian's Bazel cannot even
// open grpcs://), and a peek would have to sit behind the TLS layer.
import { channel } from 'node:diagnostics_channel';
import http2, { type Http2Server, type Http2Session, type Settings } from 'node:http2';
import net, { type AddressInfo, type Socket } from 'node:net';
import { hasUserinfo } from './authority-credentials.ts';
import { AuthorityTranscoder } from './authority-transcoder.ts';
import { peekFirstRequest } from './connection-peek.ts';

/**
 * Published once per connection as it is handed to the HTTP/2 server:
 * `{ transcoded: boolean, socket: net.Socket }` (the client's TCP socket).
 */
export const connectionChannel = channel('hoard:grpc:connection');

/** Bytes the peek reads at most: a first header block is far smaller (and nghttp2 refuses one over 64 KiB). */
const PEEK_MAX_BYTES = 128 * 1024;
/**
 * How long the peek waits for the first request. gRPC clients connect for a call and send
 * it at once; a connection opened and left idle longer is handed on natively.
 */
const PEEK_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_HEADER_LIST_SIZE = 64 * 1024;

/** The client's socket of a session that runs over a transcoder (its own socket has no address). */
const clientSockets = new WeakMap<Http2Session, Socket>();

/** The client's TCP socket behind `session` when it is transcoded; undefined for native sessions. */
export function transcodedSocketOf(session: Http2Session | undefined): Socket | undefined {
  return session === undefined ? undefined : clientSockets.get(session);
}

/** What grpc-transport.ts needs of a listener, plain (this file) or TLS. */
export interface Listener {
  readonly port: number;
  /** Stops accepting; `onClosed` runs once every accepted connection has closed. */
  close(onClosed?: () => void): void;
  /** Destroys every accepted connection still open (peeked at, native or transcoded). */
  destroyConnections(): void;
}

export interface PlainListenOptions {
  readonly reusePort: boolean;
  /** The HTTP/2 server's settings (what its SETTINGS frame will say). */
  readonly settings: Settings;
}

export async function listenPlain(
  server: Http2Server,
  host: string,
  port: number,
  options: PlainListenOptions,
): Promise<Listener> {
  const sockets = new Set<Socket>();
  const peeking = new Map<Socket, () => void>();
  const peek = {
    settings: http2.getPackedSettings(earlySafeSettings(options.settings)),
    maxBytes: PEEK_MAX_BYTES,
    timeoutMs: PEEK_TIMEOUT_MS,
  };
  const maxHeaderListSize = options.settings.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST_SIZE;

  const netServer = net.createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const cancel = peekFirstRequest(socket, peek, (outcome) => {
      peeking.delete(socket);
      if (outcome.authority === undefined || !hasUserinfo(outcome.authority)) {
        // Node's session reads what is already buffered in the socket before it reads on.
        if (outcome.bytes.length > 0) socket.unshift(outcome.bytes);
        server.emit('connection', socket);
        publish(false, socket);
        return;
      }
      let session: Http2Session | undefined;
      const transcoder = new AuthorityTranscoder(socket, outcome.bytes, {
        maxHeaderListSize,
        headerTableSize: options.settings.headerTableSize,
        // GOAWAY(COMPRESSION_ERROR) from the session, then the connection closes. The error
        // goes to the session's 'error' listener (grpc-transport.ts); it names no header.
        onMalformed: (why) =>
          session === undefined
            ? transcoder.destroy()
            : session.destroy(
                new Error(`a transcoded connection sent ${why}`),
                http2.constants.NGHTTP2_COMPRESSION_ERROR,
              ),
      });
      // The server makes the session and emits 'session' inside emit('connection').
      const adopt = (s: Http2Session) => {
        session = s;
        clientSockets.set(s, socket);
      };
      server.on('session', adopt);
      try {
        publish(true, socket);
        server.emit('connection', transcoder);
      } finally {
        server.off('session', adopt);
      }
      transcoder.start();
    });
    peeking.set(socket, cancel);
    socket.once('close', () => peeking.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    netServer.once('error', reject);
    netServer.listen({ port, host, reusePort: options.reusePort }, () => {
      netServer.off('error', reject);
      resolve();
    });
  });
  netServer.on('error', (err) => server.emit('error', err));

  return {
    port: (netServer.address() as AddressInfo).port,
    close(onClosed) {
      netServer.close(() => onClosed?.());
      // A connection still being peeked at has no call yet: it ends now.
      for (const [socket, cancel] of peeking) {
        cancel();
        socket.destroy();
      }
    },
    destroyConnections() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

function publish(transcoded: boolean, socket: Socket): void {
  if (connectionChannel.hasSubscribers) connectionChannel.publish({ transcoded, socket });
}

/**
 * The settings the peek's SETTINGS frame may announce: those a client may act on before
 * nghttp2's own SETTINGS frame is acknowledged. A larger initial window or frame size is
 * not (nghttp2 applies its own only on the acknowledgement, and would take data sent
 * under the peek's as a flow-control error); a smaller window, a stream limit and the header
 * list size are.
 */
function earlySafeSettings(settings: Settings): Settings {
  const safe: Settings = {};
  if (settings.maxConcurrentStreams !== undefined) safe.maxConcurrentStreams = settings.maxConcurrentStreams;
  if (settings.maxHeaderListSize !== undefined) safe.maxHeaderListSize = settings.maxHeaderListSize;
  if (settings.initialWindowSize !== undefined && settings.initialWindowSize <= 65_535)
    safe.initialWindowSize = settings.initialWindowSize;
  return safe;
}
