// The HTTP/1.1 listener: node:http with the connection policy of rules 3, 4 and 7, routing
// each request to the admin endpoints, the Bazel HTTP frontend or the ccache frontend.
//
// Timeouts: headers must arrive within `headersTimeout` (slowloris); a request body or a
// response download is cut after `bodyIdleTimeout` without progress (the socket's idle
// timer), never after a total time, so large uploads on slow links work. Idle keep-alive
// connections live `keepAliveTimeout` (announced in the Keep-Alive header), comfortably
// longer than clients' idle reuse, so a client never reuses a connection we just closed.
//
// Drain (rule 3): stop accepting, tell every following response `Connection: close`, let
// in-flight requests finish until the deadline, then cut what is left. A cut upload
// publishes nothing: the store sees an aborted body.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { formatAddress } from '../config/units.ts';
import {
  createBazelHttpHandler,
  matchBazelPath,
  PROTOCOL as BAZEL,
} from '../frontends/bazel-http/bazel-http-handler.ts';
import {
  createCcacheHttpHandler,
  matchCcachePath,
  PROTOCOL as CCACHE,
} from '../frontends/ccache-http/ccache-http-handler.ts';
import type { HttpContext } from '../frontends/http/http-context.ts';
import { parsePathSegments } from '../frontends/http/request-path.ts';
import { sendError, sendText } from '../frontends/http/respond.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Store } from '../storage/store.ts';
import { adminPath, handleAdmin, PROTOCOL as ADMIN, type AdminState } from './admin-routes.ts';

/** Node answers 431 for request heads above this. */
const MAX_HEADER_BYTES = 16 * 1024;

export interface HttpListenerOptions {
  readonly config: Config;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly admin: AdminState;
}

export interface HttpListener {
  /** http://host:port of the bound socket. */
  readonly url: string;
  /** True from the first drain or destroy call on. */
  readonly draining: boolean;
  inflight(): number;
  /**
   * Stops accepting and drains: resolves once every in-flight request finished, or at
   * `deadline` (epoch ms) after cutting the connections still open. Idempotent.
   */
  drain(deadline: number): Promise<void>;
  /** Cuts every connection now (a second signal). */
  destroy(): void;
}

const START = Symbol('hoard.start');
const PROTO = Symbol('hoard.protocol');
interface Tracked extends ServerResponse {
  [START]: number;
  [PROTO]: string;
}

export async function startHttpListener(options: HttpListenerOptions): Promise<HttpListener> {
  const { config, store, metrics, logger, admin } = options;
  const access = config.accessLog ? logger.child({ log: 'access' }) : undefined;
  let draining = false;
  let inflight = 0;
  let drained: (() => void) | undefined;

  const ctx: HttpContext = {
    store,
    metrics,
    logger,
    closeConnections: () => draining || config.debugCloseConnections,
    // The per-entry limit only (413); an entry over the store's whole bound is the store's
    // answer, insufficient_storage (507), before any byte is read.
    maxEntryBytes: config.maxBlobSize,
  };
  const bazel = createBazelHttpHandler(ctx, config);
  const ccache = createCcacheHttpHandler(ctx, config);

  // One shared listener (no per-request closure): accounts, logs and measures a request
  // when its response is finished or abandoned.
  function onResponseClose(this: Tracked): void {
    inflight--;
    const seconds = (performance.now() - this[START]) / 1000;
    const status = this.writableFinished ? this.statusCode : 'aborted';
    const method = this.req.method ?? 'UNKNOWN';
    metrics.request(this[PROTO], method, status, seconds);
    access?.info({
      method,
      url: this.req.url,
      status,
      ms: Math.round(seconds * 1e4) / 10,
      bytes: this.getHeader('content-length'),
      remote: this.req.socket.remoteAddress,
    });
    if (draining) {
      server.closeIdleConnections();
      if (inflight === 0) drained?.();
    }
  }

  async function route(req: IncomingMessage, res: Tracked): Promise<void> {
    const target = req.url ?? '/';
    const admin_ = adminPath(target);
    if (admin_ !== undefined) {
      res[PROTO] = ADMIN;
      return handleAdmin(req, res, ctx, admin_, admin);
    }
    let segments: string[];
    try {
      segments = parsePathSegments(target);
    } catch (err) {
      return sendError(req, res, ctx, BAZEL, err);
    }
    // ccache first: its key shapes (40 hex, 2 + 38 hex, 2 hex + 31 base32hex) never fit a
    // Bazel hash (64 hex), and Bazel stays the catch-all that gives a bad hash its 400
    // (matchCcachePath leaves 40 hex right under ac/ or cas/ to Bazel).
    const c = matchCcachePath(segments);
    if (c !== undefined) {
      res[PROTO] = CCACHE;
      return ccache(req, res, c);
    }
    const b = matchBazelPath(segments);
    if (b !== undefined) return bazel(req, res, b);
    sendText(
      req,
      res,
      ctx,
      400,
      'invalid_argument: not a cache path; expected <prefix>/ac/<sha256>, <prefix>/cas/<sha256>, or a ccache key <prefix>/<2 hex>/<rest> or <prefix>/<key>',
    );
  }

  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: 0,
      headersTimeout: config.headersTimeout,
      connectionsCheckingInterval: 1000,
    },
    (req, res) => {
      const tracked = res as Tracked;
      tracked[START] = performance.now();
      // Paths no frontend claims are counted with Bazel's, the listener's main protocol.
      tracked[PROTO] = BAZEL;
      inflight++;
      res.once('close', onResponseClose);
      route(req, tracked).catch((err: unknown) => sendError(req, res, ctx, tracked[PROTO], err));
    },
  );
  server.keepAliveTimeout = config.keepAliveTimeout;
  // The socket idle timer: Node arms it for every request (also on reused connections)
  // and switches to keepAliveTimeout between requests, so it bounds a stalled upload or
  // download by lack of progress, not by total time.
  server.timeout = config.bodyIdleTimeout;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new Error(`cannot listen on HTTP address ${formatAddress(config.httpAddress)}: ${err.code ?? err.message}`, {
          cause: err,
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: config.httpAddress.host, port: config.httpAddress.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger.error({ err }, 'HTTP listener error'));
  const bound = server.address() as AddressInfo;
  const url = `http://${formatAddress({ host: bound.address, port: bound.port })}`;

  let drainPromise: Promise<void> | undefined;
  const drain = (deadline: number): Promise<void> => {
    drainPromise ??= (async () => {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inflight > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          timer.unref();
        });
      }
      if (inflight > 0)
        logger.warn(
          { inflight },
          'drain deadline reached: cutting the requests still in flight (nothing partial is published)',
        );
      server.closeAllConnections();
      await closed;
    })();
    return drainPromise;
  };

  return {
    url,
    get draining() {
      return draining;
    },
    inflight: () => inflight,
    drain,
    destroy: () => {
      draining = true;
      server.closeAllConnections();
      server.close();
    },
  };
}
