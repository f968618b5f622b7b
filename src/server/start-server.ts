// Starts a whole hoard server from a validated config: opens the store, starts the HTTP
// listener (Bazel HTTP, ccache, admin endpoints) and the gRPC REAPI listener, and owns
// the lifecycle. Embeddable: tests start many in one process; nothing here touches
// process signals or exits (that is ./signals.ts, used by `hoard serve`).
//
// Shutdown order (rule 3): stop accepting on every listener, let in-flight streams finish
// until the drain deadline, cut the rest (the store publishes nothing partial), and only
// then close the store, which finishes its writes and makes them durable.
import type { Logger } from 'pino';
import pkg from '../../package.json' with { type: 'json' };
import type { Config } from '../config/schema.ts';
import { createMetrics, renderMerged, type Metrics } from '../metrics/metrics.ts';
import { createStore } from '../storage/create-store.ts';
import type { Store } from '../storage/store.ts';
import type { CallChain } from '../core/call.ts';
import { startRequestThreads, type RequestThreads } from '../workers/request-threads.ts';
import { statusDocument, type StatusFacts } from './status-document.ts';
import { StatusHistory } from './status-history.ts';
import { startGrpcListener, type GrpcListener } from './grpc-listener.ts';
import { startHttpListener, type HttpListener } from './http-listener.ts';
import { tlsFilesOf } from './tls.ts';
import { defaultCallChain } from './interceptors/default-chain.ts';
import { createLogger } from './logger.ts';

export const VERSION: string = pkg.version;

export interface StartOptions {
  /** Defaults to a pino logger built from config.logLevel/logFormat. */
  readonly logger?: Logger;
  /**
   * The store to serve; by default createStore(config) builds the stack the config asks
   * for. Either way the server owns it: shutdown (or a failed start) closes it.
   */
  readonly store?: Store;
}

export interface RunningServer {
  readonly config: Config;
  readonly store: Store;
  /**
   * `render()` is the whole server's Prometheus text. With request threads, the recorders and
   * `activity()` are the main thread's own (which serves no request): /status has the
   * whole server's traffic.
   */
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** http://host:port of the HTTP listener. */
  readonly httpUrl: string;
  /** host:port of the gRPC listener, undefined when disabled or not available. */
  readonly grpcAddress: string | undefined;
  /** True from the first shutdown call on. */
  readonly draining: boolean;
  /** The request threads (`--workers N`, N > 1); undefined when the main thread serves. */
  readonly requestThreads: RequestThreads | undefined;
  /** Drains within config.drainTimeout (or `drainMs`), then closes the store. Idempotent. */
  shutdown(drainMs?: number): Promise<void>;
  /** Cuts every connection at once, without waiting (second signal). */
  abort(): void;
  /** Writes out buffered log lines. */
  flushLogs(): void;
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  tlsFilesOf(config); // both TLS files or neither: refused before anything starts
  const own = options.logger === undefined ? createLogger(config) : undefined;
  const logger = options.logger ?? own!.logger;
  const startedAt = new Date();
  const metrics = createMetrics();
  // One chain for both listeners: every call, HTTP or gRPC, is logged and counted alike.
  const chain = defaultCallChain({ config, metrics, logger });
  const store =
    options.store ??
    (await createStore(config, {
      logger: logger.child({ tier: 'bucket' }),
      onEffectiveMaxBytes: (effectiveMaxBytes, maxBytes) =>
        effectiveMaxBytes < maxBytes || maxBytes === 0
          ? logger.warn(
              { effectiveMaxBytes, maxBytes },
              'the file system holds less than the store bound: the store now evicts to stay within what it holds',
            )
          : logger.info(
              { effectiveMaxBytes, maxBytes },
              'the file system has room again: the store works to its bound',
            ),
    }));
  metrics.observeStore(store);

  const listeners =
    config.workers > 1
      ? await onRequestThreads(config, store, metrics, logger, startedAt, own === undefined)
      : await onMainThread(config, store, metrics, logger, startedAt, chain);

  const usage = store.usage();
  logger.info(
    {
      http: listeners.httpUrl,
      grpc: listeners.grpcAddress,
      workers: config.workers,
      dir: config.dir,
      maxBytes: usage.maxBytes,
      bytes: usage.bytes,
      entries: usage.entries,
      version: VERSION,
    },
    'hoard started',
  );

  let shutdownPromise: Promise<void> | undefined;
  return {
    config,
    store,
    metrics: listeners.metrics,
    logger,
    httpUrl: listeners.httpUrl,
    grpcAddress: listeners.grpcAddress,
    get draining() {
      return listeners.draining;
    },
    requestThreads: listeners.threads,
    shutdown(drainMs = config.drainTimeout) {
      shutdownPromise ??= (async () => {
        const deadline = Date.now() + drainMs;
        logger.info({ drainMs, inflight: listeners.inflight() }, 'shutting down: draining in-flight requests');
        await listeners.drain(deadline);
        listeners.history.stop();
        chain.close();
        await store.close();
        logger.info('hoard stopped: store closed');
        own?.flush();
      })();
      return shutdownPromise;
    },
    abort() {
      listeners.abort();
    },
    flushLogs() {
      own?.flush();
    },
  };
}

/** The listeners, wherever they run: on this thread, or on request threads. */
interface Listeners {
  readonly httpUrl: string;
  readonly grpcAddress: string | undefined;
  /** The whole server's metrics (with request threads: theirs and this thread's, merged). */
  readonly metrics: Metrics;
  readonly draining: boolean;
  readonly threads?: RequestThreads;
  /** The last hour of /status, for the status page; sampling from the start on. */
  readonly history: StatusHistory;
  /** Requests in flight on this thread's listeners (request threads count their own). */
  inflight(): number | undefined;
  drain(deadline: number): Promise<void>;
  abort(): void;
}

/** `--workers 1`: the listeners share this thread with the store. */
async function onMainThread(
  config: Config,
  store: Store,
  metrics: Metrics,
  logger: Logger,
  startedAt: Date,
  chain: CallChain,
): Promise<Listeners> {
  let http: HttpListener | undefined;
  let grpc: GrpcListener | undefined;
  const history = new StatusHistory(async () =>
    statusDocument({
      ...facts(config, startedAt, store),
      draining: http?.draining ?? false,
      listeners: { http: http?.url, grpc: grpc?.address },
      workers: 1,
      activity: metrics.activity(),
    }),
  );
  try {
    http = await startHttpListener({
      chain,
      config,
      store,
      metrics,
      logger,
      admin: {
        isDraining: () => http?.draining ?? false,
        metricsContentType: metrics.contentType,
        metrics: () => metrics.render(),
        status: (withHistory) => history.document(withHistory),
      },
    });
    if (config.grpcAddress !== undefined) {
      grpc = await startGrpcListener({ config, store, metrics, logger, chain, address: config.grpcAddress });
    }
  } catch (err) {
    if (http) await http.drain(Date.now());
    await store.close();
    throw err;
  }
  const bound = { http, grpc };
  history.start();
  return {
    httpUrl: http.url,
    grpcAddress: grpc?.address,
    metrics,
    history,
    get draining() {
      return bound.http.draining;
    },
    inflight: () => bound.http.inflight(),
    drain: async (deadline) => {
      await Promise.all([bound.http.drain(deadline), bound.grpc?.shutdown(deadline)]);
    },
    abort() {
      bound.http.destroy();
      bound.grpc?.abort();
    },
  };
}

/**
 * `--workers N`: N request threads listen on the same ports and reach the store, which
 * stays on this thread with its single writer, through messages (src/workers/).
 */
async function onRequestThreads(
  config: Config,
  store: Store,
  metrics: Metrics,
  logger: Logger,
  startedAt: Date,
  forwardLogs: boolean,
): Promise<Listeners> {
  let draining = false;
  let threads: RequestThreads;
  const history = new StatusHistory(async () =>
    statusDocument({
      ...facts(config, startedAt, store),
      draining,
      listeners: { http: threads.httpUrl, grpc: threads.grpcAddress },
      workers: threads.count,
      activity: await threads.activity(),
    }),
  );
  try {
    threads = await startRequestThreads({
      config,
      store,
      logger,
      metrics,
      forwardLogs,
      status: (withHistory) => history.document(withHistory),
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  // /metrics and render() merge every thread's series; the recorders stay this thread's.
  const merged: Metrics = { ...metrics, render: async () => renderMerged(await threads.snapshots()) };
  history.start();
  return {
    httpUrl: threads.httpUrl,
    grpcAddress: threads.grpcAddress,
    threads,
    history,
    metrics: merged,
    get draining() {
      return draining;
    },
    inflight: () => undefined,
    drain: (deadline) => {
      draining = true;
      return threads.stop(deadline);
    },
    abort: () => threads.abort(),
  };
}

/** What /status reports of the server whichever thread serves it. */
function facts(
  config: Config,
  startedAt: Date,
  store: Store,
): Pick<StatusFacts, 'version' | 'startedAt' | 'storeDir' | 'usage'> {
  return { version: VERSION, startedAt, storeDir: config.dir, usage: store.usage() };
}
