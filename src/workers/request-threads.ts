// The main thread's request threads (`--workers N`, N > 1): starts N request threads that
// listen on the same ports, serves the one store to each over a port of its own, answers
// their admin questions with the whole server's figures, and drains and stops them.
//
// The main thread claims the configured ports first (0: the kernel picks), then every
// thread binds them, shared. A thread that ends unexpectedly is replaced on the same ports,
// so a bug one request hits costs that thread's connections, not the server.
import { siblingModuleUrl } from '../core/module-url.ts';
import { rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { formatAddress, type ListenAddress } from '../config/units.ts';
import { sumActivity, type Activity } from '../metrics/activity.ts';
import { renderMerged, type Metrics, type MetricsSnapshot } from '../metrics/metrics.ts';
import type { Store } from '../storage/store.ts';
import { serveStore, type StoreHost } from './store-host.ts';
import type { AdminQuestion, FromThread, RequestThreadData, ToThread } from './thread-messages.ts';

/** A request thread that does not answer a metrics scrape within this is left out of it. */
const SNAPSHOT_TIMEOUT_MS = 2000;
/** A thread that ends this soon after it started is replaced only after this long. */
const RESTART_BACKOFF_MS = 1000;

export interface RequestThreadsOptions {
  readonly config: Config;
  readonly store: Store;
  readonly logger: Logger;
  /** The main thread's metrics: the store's gauges and the process's figures. */
  readonly metrics: Metrics;
  /** Request threads log through `logger` (an embedder's) instead of straight to stdout. */
  readonly forwardLogs: boolean;
  /** Answers /status (with the status page's history when asked); `activity()` below is every thread's traffic. */
  status(history: boolean): Promise<object>;
}

export interface RequestThreads {
  readonly count: number;
  readonly httpUrl: string;
  readonly grpcAddress: string | undefined;
  /** Every thread's metrics and the main thread's. */
  snapshots(): Promise<MetricsSnapshot[]>;
  /** Every thread's traffic, summed. */
  activity(): Promise<Activity>;
  /** Drains every thread until `deadline` (epoch ms), then stops them. Idempotent. */
  stop(deadline: number): Promise<void>;
  /** Cuts every connection of every thread now. */
  abort(): void;
  /** The indexes (1-based) of the threads running now. */
  running(): number[];
  /**
   * Ends thread `index` the way a crash would, without a drain: its connections are cut and
   * it is replaced on the same ports (what operators' tooling and the tests exercise).
   */
  end(index: number): Promise<void>;
}

interface Thread {
  readonly worker: Worker;
  readonly host: StoreHost;
  readonly startedAt: number;
}

export async function startRequestThreads(options: RequestThreadsOptions): Promise<RequestThreads> {
  const { config, store, logger, metrics } = options;
  const count = config.workers;
  const spoolRoot = path.join(config.dir, 'partial');
  // The threads share one spool of interrupted uploads; an earlier run's is not indexed.
  await rm(spoolRoot, { recursive: true, force: true });

  const threads = new Map<number, Thread>();
  const snapshotWaiters = new Map<number, (s: MetricsSnapshot) => void>();
  let nextSnapshot = 1;
  let stopping = false;
  // Claim each port alone first: a port already shared through SO_REUSEPORT (another
  // hoard's threads, same user) refuses a socket without it, so a second server on the
  // same port fails to start, as it would with one thread, instead of silently taking half
  // its connections. Port 0 becomes a free port here; every thread then shares these.
  const httpPort = await claimPort('HTTP', config.httpAddress);
  const grpcPort = config.grpcAddress === undefined ? undefined : await claimPort('gRPC', config.grpcAddress);

  const snapshots = async (): Promise<MetricsSnapshot[]> => {
    const asked = [...threads.values()].map(
      ({ worker }) =>
        new Promise<MetricsSnapshot | undefined>((resolve) => {
          const id = nextSnapshot++;
          const timer = setTimeout(() => {
            snapshotWaiters.delete(id);
            resolve(undefined);
          }, SNAPSHOT_TIMEOUT_MS);
          snapshotWaiters.set(id, (s) => {
            clearTimeout(timer);
            resolve(s);
          });
          worker.postMessage({ t: 'snapshot', id } satisfies ToThread);
        }),
    );
    const own = await metrics.snapshot();
    return [own, ...(await Promise.all(asked)).filter((s) => s !== undefined)];
  };

  const answer = async (question: AdminQuestion): Promise<unknown> =>
    question === 'metrics' ? renderMerged(await snapshots()) : options.status(question === 'status-history');

  const logLine = (index: number, line: string): void => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const { level, msg, time: _time, ...fields } = record;
    const name = pinoLevelName(level);
    logger[name]({ ...fields, thread: index }, typeof msg === 'string' ? msg : '');
  };

  /** Starts thread `index` on the shared ports; resolves with its addresses once it listens. */
  const start = (index: number) =>
    new Promise<{ http: string; grpc: string | undefined }>((resolve, reject) => {
      const channel = new MessageChannel();
      const data: RequestThreadData = {
        config,
        index,
        storePort: channel.port2,
        usage: store.usage(),
        httpPort,
        grpcPort,
        forwardLogs: options.forwardLogs,
      };
      const worker = new Worker(siblingModuleUrl(import.meta.url, 'request-thread'), {
        workerData: data,
        transferList: [channel.port2],
      });
      const host = serveStore(store, channel.port1);
      const thread: Thread = { worker, host, startedAt: Date.now() };
      threads.set(index, thread);
      let ready = false;
      worker.on('message', (m: FromThread) => {
        switch (m.t) {
          case 'ready':
            ready = true;
            resolve(m);
            return;
          case 'failed':
            reject(new Error(m.message));
            void worker.terminate();
            return;
          case 'drained':
            return;
          case 'snapshot':
            snapshotWaiters.get(m.id)?.(m.snapshot);
            snapshotWaiters.delete(m.id);
            return;
          case 'ask':
            void answer(m.question).then((value) =>
              worker.postMessage({ t: 'answer', id: m.id, value } satisfies ToThread),
            );
            return;
          case 'log':
            logLine(index, m.line);
            return;
        }
      });
      worker.on('error', (err) => logger.error({ err, thread: index }, 'request thread failed'));
      worker.on('exit', (code) => {
        host.close();
        if (threads.get(index) === thread) threads.delete(index);
        if (!ready) {
          reject(new Error(`request thread ${index} ended before it listened (exit code ${code})`));
          return;
        }
        if (stopping) return;
        logger.error(
          { thread: index, code },
          'request thread ended unexpectedly: starting a new one on the same ports',
        );
        const delay = Date.now() - thread.startedAt < RESTART_BACKOFF_MS ? RESTART_BACKOFF_MS : 0;
        setTimeout(() => {
          if (stopping) return;
          start(index).catch((err: unknown) =>
            logger.error({ err, thread: index }, 'could not replace a request thread'),
          );
        }, delay).unref();
      });
    });

  const stopAll = async (): Promise<void> => {
    stopping = true;
    await Promise.all([...threads.values()].map(({ worker }) => worker.terminate()));
  };

  let first: { http: string; grpc: string | undefined };
  try {
    const started = await Promise.all(Array.from({ length: count }, (_, i) => start(i + 1)));
    first = started[0]!;
  } catch (err) {
    await stopAll();
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    count,
    httpUrl: first.http,
    grpcAddress: first.grpc,
    snapshots,
    activity: async () => sumActivity((await snapshots()).map((s) => s.activity)),
    stop(deadline) {
      stopped ??= (async () => {
        stopping = true;
        const drained = [...threads.values()].map(
          ({ worker }) =>
            new Promise<void>((resolve) => {
              const onMessage = (m: FromThread) => {
                if (m.t === 'drained') resolve();
              };
              worker.on('message', onMessage);
              worker.once('exit', () => resolve());
              worker.postMessage({ t: 'drain', deadline } satisfies ToThread);
            }),
        );
        await Promise.all(drained);
        await stopAll();
      })();
      return stopped;
    },
    abort() {
      for (const { worker } of threads.values()) worker.postMessage({ t: 'abort' } satisfies ToThread);
    },
    running: () => [...threads.keys()].sort((a, b) => a - b),
    async end(index) {
      await threads.get(index)?.worker.terminate();
    },
  };
}

/** Binds `address` without SO_REUSEPORT and lets go: its port, or the listen error. */
async function claimPort(what: string, address: ListenAddress): Promise<number> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address.host, port: address.port, exclusive: true }, resolve);
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new Error(`cannot listen on ${what} address ${formatAddress(address)}: ${code}`, { cause: err });
  }
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function pinoLevelName(level: unknown): 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' {
  const n = typeof level === 'number' ? level : 30;
  if (n >= 60) return 'fatal';
  if (n >= 50) return 'error';
  if (n >= 40) return 'warn';
  if (n >= 30) return 'info';
  if (n >= 20) return 'debug';
  return 'trace';
}
