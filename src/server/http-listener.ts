// The HTTP/1.1 listener: node:http with the connection policy of rules 3, 4 and 7. Each
// request becomes a call (src/core/call.ts) that the route table (frontends/http/route-table.ts)
// hands to a frontend's route, after the call chain admitted it; the chain hears its outcome
// once, when the response is finished or abandoned.
//
// Timeouts: headers must arrive within `headersTimeout` (slowloris); a request body or a
// response download is cut after `bodyIdleTimeout` without progress (the socket's idle
// timer), never after a total time, so large uploads on slow links work. Idle keep-alive
// connections live `keepAliveTimeout` (announced in the Keep-Alive header), comfortably
// longer than clients' idle reuse, so a client never reuses a connection we just closed.
//
// TLS (--tls-cert-file, --tls-key-file): the same server over node:https; a rotated
// certificate is picked up for new connections (tls.ts).
//
// Drain (rule 3): stop accepting, tell every following response `Connection: close`, let
// in-flight requests finish until the deadline, then cut what is left. A cut upload
// publishes nothing: the store sees an aborted body.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { formatAddress, type ListenAddress } from '../config/units.ts';
import type { CallChain } from '../core/call.ts';
import { bazelHttpRoute } from '../frontends/bazel-http/bazel-http-route.ts';
import { ccacheHttpRoute } from '../frontends/ccache-http/ccache-http-route.ts';
import { gradleRoute } from '../frontends/gradle/gradle-route.ts';
import { attachCall, callOf, HttpCall } from '../frontends/http/http-call.ts';
import type { HttpContext } from '../frontends/http/http-context.ts';
import { parsePathSegments } from '../frontends/http/request-path.ts';
import { sendError, sendText } from '../frontends/http/respond.ts';
import { queryOf, RouteTable, type HttpRoute } from '../frontends/http/route-table.ts';
import { nxRoute } from '../frontends/nx/nx-route.ts';
import { turborepoRoute } from '../frontends/turborepo/turborepo-route.ts';
import { webdavRoute } from '../frontends/webdav/webdav-route.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Store } from '../storage/store.ts';
import { adminRoute, type AdminState } from './admin-routes.ts';
import { defaultCallChain } from './interceptors/default-chain.ts';
import { statusPageRoute } from './status-page-route.ts';
import { readKeyPair, serverTlsOptions, tlsFilesOf, watchKeyPair } from './tls.ts';

/** Node answers 431 for request heads above this. */
const MAX_HEADER_BYTES = 16 * 1024;

export interface HttpListenerOptions {
  readonly config: Config;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly admin: AdminState;
  /** What every request goes through; by default the access log (when on) and the request metrics. */
  readonly chain?: CallChain;
  /** Where to listen; default config.httpAddress. */
  readonly address?: ListenAddress;
  /**
   * Share the port with other listeners that set it too (SO_REUSEPORT): each request thread
   * listens on the same port and the kernel spreads connections over them.
   */
  readonly reusePort?: boolean;
  /** The request thread's stable number (1, 2, ...); 0, the default, on the main thread. */
  readonly threadIndex?: number;
}

/** Node's HTTP server options of this listener, also for its HTTPS server. */
function serverOptions(config: Config) {
  return {
    maxHeaderSize: MAX_HEADER_BYTES,
    requestTimeout: 0,
    headersTimeout: config.headersTimeout,
    connectionsCheckingInterval: 1000,
  };
}

const NOT_A_CACHE_PATH =
  'invalid_argument: not a cache path; expected <prefix>/ac/<sha256>, <prefix>/cas/<sha256>, or a ccache key <prefix>/<2 hex>/<rest> or <prefix>/<key>';

/** The mounted protocols, each where the config puts it (--turborepo-mount ...; '' unmounts). */
function mountedRoutes(ctx: HttpContext, config: Config): HttpRoute[] {
  const routes: HttpRoute[] = [];
  const add = <P>(mount: readonly string[] | undefined, make: (m: readonly string[]) => HttpRoute<P>) => {
    if (mount !== undefined) routes.push(make(mount) as HttpRoute);
  };
  add(config.turborepoMount, (m) => turborepoRoute(ctx, config, m));
  add(config.nxMount, (m) => nxRoute(ctx, config, m));
  add(config.gradleMount, (m) => gradleRoute(ctx, config, m));
  add(config.sccacheMount, (m) => webdavRoute(ctx, config, m));
  return routes;
}

/**
 * Whether a finished call is a success, hit, miss or expected refusal rather than a failure.
 * A failure records its cause (sendError does, whatever status a protocol words it as: Nx
 * gets a store fault as a miss, and it must still be counted) or is a 5xx. A 4xx a frontend
 * answers without a cause is the protocol's normal answer (Nx's 409 "already stored",
 * WebDAV's 405 "collection exists").
 */
function answeredWell(call: HttpCall, status: number): boolean {
  return call.cause === undefined && status < 500;
}

/** Sends `100 Continue` when something first reads `req`'s body (a 'data' or 'readable' listener). */
function continueWhenRead(req: IncomingMessage, res: ServerResponse): void {
  const onListener = (event: string | symbol): void => {
    if (event !== 'data' && event !== 'readable') return;
    req.off('newListener', onListener);
    if (!res.headersSent) res.writeContinue();
  };
  req.on('newListener', onListener);
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

export async function startHttpListener(options: HttpListenerOptions): Promise<HttpListener> {
  const { config, store, metrics, logger, admin } = options;
  const address = options.address ?? config.httpAddress;
  const chain = options.chain ?? defaultCallChain({ config, metrics, logger });
  const ownChain = options.chain === undefined;
  let draining = false;
  let inflight = 0;
  let drained: (() => void) | undefined;

  const ctx: HttpContext = {
    store,
    metrics,
    logger,
    closeConnections: () => draining || config.debugCloseConnections,
    threadIndex: options.threadIndex ?? 0,
    // The per-entry limit only (413); an entry over the store's whole bound is the store's
    // answer, insufficient_storage (507), before any byte is read.
    maxEntryBytes: config.maxBlobSize,
  };
  const routes = new RouteTable([
    adminRoute(ctx, admin, config.publicMetrics),
    ...(config.statusPage === undefined ? [] : [statusPageRoute(ctx, config.statusPage) as HttpRoute]),
    ...mountedRoutes(ctx, config),
    ccacheHttpRoute(ctx, config),
    bazelHttpRoute(ctx, config),
  ]);

  // One shared listener (no per-request closure): the call's outcome goes through the
  // chain once, when its response is finished or abandoned.
  function onResponseClose(this: ServerResponse): void {
    inflight--;
    const call = callOf(this)!;
    const seconds = (performance.now() - call.startedAt) / 1000;
    const finished = this.writableFinished;
    const status = finished ? this.statusCode : 'aborted';
    chain.finish(call, {
      status,
      ok: finished && answeredWell(call, this.statusCode),
      seconds,
      bytesSent: call.bodyBytes,
    });
    if (draining) {
      server.closeIdleConnections();
      if (inflight === 0) drained?.();
    }
  }

  async function dispatch(req: IncomingMessage, res: ServerResponse, call: HttpCall): Promise<void> {
    const target = req.url ?? '/';
    const found = routes.find(parsePathSegments(target), call.operation);
    if (found.kind === 'none') {
      call.cause = 'not_a_cache_path';
      sendText(req, res, ctx, 400, NOT_A_CACHE_PATH);
      return;
    }
    const { route, params } = found;
    call.protocol = route.protocol;
    if (!found.allowed) {
      call.cause = 'method_not_allowed';
      const allow = routes.allow(route);
      sendText(req, res, ctx, 405, `method ${call.operation} is not allowed here; use ${allow}`, { allow });
      return;
    }
    const query = queryOf(target);
    try {
      // A query the route refuses (a malformed Turborepo team) is worded like a refusal.
      route.describe(call, params, query);
      const admitting = chain.admit(call);
      if (admitting !== undefined) await admitting;
    } catch (err) {
      sendError(req, res, ctx, err, route.wording?.(call));
      return;
    }
    await route.handle(req, res, params, query);
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const call = new HttpCall(req);
    attachCall(res, call);
    inflight++;
    res.once('close', onResponseClose);
    dispatch(req, res, call).catch((err: unknown) => sendError(req, res, ctx, err));
  };
  // Expect: 100-continue (Gradle's useExpectContinue, curl on large bodies): the 100 goes out
  // only once a frontend starts reading the body, so a refusal decided from the headers
  // (413 over the size limit, 401, 403) is the client's final answer before it sends a byte.
  const onCheckContinue = (req: IncomingMessage, res: ServerResponse): void => {
    continueWhenRead(req, res);
    onRequest(req, res);
  };
  const tlsFiles = tlsFilesOf(config);
  const server =
    tlsFiles === undefined
      ? createServer(serverOptions(config), onRequest)
      : createHttpsServer(
          { ...serverOptions(config), ...serverTlsOptions(tlsFiles, await readKeyPair(tlsFiles)) },
          onRequest,
        );
  const unwatch =
    tlsFiles === undefined
      ? () => undefined
      : watchKeyPair(tlsFiles, (pair) => (server as HttpsServer).setSecureContext(pair), logger, 'HTTP');
  server.on('checkContinue', onCheckContinue);
  server.keepAliveTimeout = config.keepAliveTimeout;
  // The socket idle timer: Node arms it for every request (also on reused connections)
  // and switches to keepAliveTimeout between requests, so it bounds a stalled upload or
  // download by lack of progress, not by total time.
  server.timeout = config.bodyIdleTimeout;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new Error(`cannot listen on HTTP address ${formatAddress(address)}: ${err.code ?? err.message}`, {
          cause: err,
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port, reusePort: options.reusePort ?? false }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger.error({ err }, 'HTTP listener error'));
  const bound = server.address() as AddressInfo;
  const url = `${tlsFiles === undefined ? 'http' : 'https'}://${formatAddress({ host: bound.address, port: bound.port })}`;

  let drainPromise: Promise<void> | undefined;
  const drain = (deadline: number): Promise<void> => {
    drainPromise ??= (async () => {
      draining = true;
      unwatch();
      if (ownChain) chain.close();
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
      unwatch();
      if (ownChain) chain.close();
      server.closeAllConnections();
      server.close();
    },
  };
}
