// A request thread: the HTTP and gRPC listeners, on ports it shares with the other request
// threads (SO_REUSEPORT), over a RemoteStore of the store thread's one store. It parses,
// verifies, compresses and answers; the main thread starts it, drains it and asks it for
// its metrics (request-threads.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { pino, type Logger } from 'pino';
import { createMetrics } from '../metrics/metrics.ts';
import { startGrpcListener, type GrpcListener } from '../server/grpc-listener.ts';
import { startHttpListener, type HttpListener } from '../server/http-listener.ts';
import { defaultCallChain } from '../server/interceptors/default-chain.ts';
import { createLogger } from '../server/logger.ts';
import { RemoteStore } from './remote-store.ts';
import type { AdminQuestion, FromThread, RequestThreadData, ToThread } from './thread-messages.ts';

const data = workerData as RequestThreadData;
const control = parentPort!;
const send = (m: FromThread): void => control.postMessage(m);
const { config } = data;

function threadLogger(): { logger: Logger; flush(): void } {
  if (data.forwardLogs) {
    const logger = pino(
      { level: config.logLevel, base: undefined },
      { write: (line: string) => send({ t: 'log', line }) },
    );
    return { logger, flush: () => undefined };
  }
  const own = createLogger(config);
  return { logger: own.logger.child({ thread: data.index }), flush: own.flush };
}

const { logger, flush } = threadLogger();
const store = new RemoteStore(data.storePort, data.usage);
const metrics = createMetrics({ processMetrics: false });
const chain = defaultCallChain({ config, metrics, logger });

let nextQuestion = 1;
const questions = new Map<number, (value: unknown) => void>();
const ask = (question: AdminQuestion): Promise<unknown> =>
  new Promise((resolve) => {
    const id = nextQuestion++;
    questions.set(id, resolve);
    send({ t: 'ask', id, question });
  });

let http: HttpListener | undefined;
let grpc: GrpcListener | undefined;

control.on('message', (m: ToThread) => {
  switch (m.t) {
    case 'drain':
      void Promise.all([http?.drain(m.deadline), grpc?.shutdown(m.deadline)]).then(() => {
        chain.close();
        flush();
        send({ t: 'drained' });
      });
      return;
    case 'abort':
      http?.destroy();
      grpc?.abort();
      return;
    case 'snapshot':
      void metrics.snapshot().then((snapshot) => send({ t: 'snapshot', id: m.id, snapshot }));
      return;
    case 'answer':
      questions.get(m.id)?.(m.value);
      questions.delete(m.id);
      return;
  }
});

try {
  http = await startHttpListener({
    chain,
    config,
    store,
    metrics,
    logger,
    address: { host: config.httpAddress.host, port: data.httpPort },
    reusePort: true,
    threadIndex: data.index,
    admin: {
      isDraining: () => http?.draining ?? false,
      metricsContentType: metrics.contentType,
      metrics: () => ask('metrics') as Promise<string>,
      status: (history) => ask(history ? 'status-history' : 'status') as Promise<object>,
    },
  });
  if (config.grpcAddress !== undefined && data.grpcPort !== undefined) {
    grpc = await startGrpcListener({
      config,
      store,
      metrics,
      logger,
      chain,
      address: { host: config.grpcAddress.host, port: data.grpcPort },
      reusePort: true,
      spoolSharedBy: data.index,
    });
  }
  send({ t: 'ready', http: http.url, grpc: grpc?.address });
} catch (err) {
  await http?.drain(Date.now());
  send({ t: 'failed', message: (err as Error).message });
}
