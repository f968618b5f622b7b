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
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { createStore } from '../storage/create-store.ts';
import type { Store } from '../storage/store.ts';
import { startGrpcListener, type GrpcListener } from './grpc-listener.ts';
import { startHttpListener, type HttpListener } from './http-listener.ts';
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
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** http://host:port of the HTTP listener. */
  readonly httpUrl: string;
  /** host:port of the gRPC listener, undefined when disabled or not available. */
  readonly grpcAddress: string | undefined;
  /** True from the first shutdown call on. */
  readonly draining: boolean;
  /** Drains within config.drainTimeout (or `drainMs`), then closes the store. Idempotent. */
  shutdown(drainMs?: number): Promise<void>;
  /** Cuts every connection at once, without waiting (second signal). */
  abort(): void;
  /** Writes out buffered log lines. */
  flushLogs(): void;
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const own = options.logger === undefined ? createLogger(config) : undefined;
  const logger = options.logger ?? own!.logger;
  const startedAt = new Date();
  const metrics = createMetrics();
  // One chain for both listeners: every call, HTTP or gRPC, is logged and counted alike.
  const chain = defaultCallChain({ config, metrics, logger });
  const store =
    options.store ??
    (await createStore(config, {
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

  let http: HttpListener | undefined;
  let grpc: GrpcListener | undefined;
  try {
    http = await startHttpListener({
      chain,
      config,
      store,
      metrics,
      logger,
      admin: {
        version: VERSION,
        startedAt,
        metrics,
        storeDir: config.dir,
        usage: () => store.usage(),
        isDraining: () => http?.draining ?? false,
        listeners: () => ({ http: http?.url, grpc: grpc?.address }),
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

  const usage = store.usage();
  logger.info(
    {
      http: http.url,
      grpc: grpc?.address,
      dir: config.dir,
      maxBytes: usage.maxBytes,
      bytes: usage.bytes,
      entries: usage.entries,
      version: VERSION,
    },
    'hoard started',
  );

  let shutdownPromise: Promise<void> | undefined;
  const listeners = { http, grpc };
  return {
    config,
    store,
    metrics,
    logger,
    httpUrl: http.url,
    grpcAddress: grpc?.address,
    get draining() {
      return listeners.http.draining;
    },
    shutdown(drainMs = config.drainTimeout) {
      shutdownPromise ??= (async () => {
        const deadline = Date.now() + drainMs;
        logger.info({ drainMs, inflight: listeners.http.inflight() }, 'shutting down: draining in-flight requests');
        await Promise.all([listeners.http.drain(deadline), listeners.grpc?.shutdown(deadline)]);
        await store.close();
        logger.info('hoard stopped: store closed');
        own?.flush();
      })();
      return shutdownPromise;
    },
    abort() {
      listeners.http.destroy();
      listeners.grpc?.abort();
    },
    flushLogs() {
      own?.flush();
    },
  };
}
