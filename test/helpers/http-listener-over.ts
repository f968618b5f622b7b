// An HTTP listener on 127.0.0.1 over a store the test made (a failing or gated one), with
// silent logs and its own metrics (or the chain it is given); `draining` is what /readyz reports.
import pino from 'pino';
import type { CallChain } from '../../src/core/call.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { storeForMode } from './store-across-threads.ts';
import { statusDocument } from '../../src/server/status-document.ts';
import { startHttpListener, type HttpListener } from '../../src/server/http-listener.ts';
import type { Store } from '../../src/storage/store.ts';

export async function startHttpListenerOver(
  store: Store,
  state: { draining: boolean } = { draining: false },
  chain?: CallChain,
): Promise<HttpListener> {
  const config = await loadConfig({
    env: {},
    flags: { httpAddress: '127.0.0.1:0', grpcAddress: '', accessLog: 'off' },
  });
  const metrics = createMetrics({ processMetrics: false });
  const reached = storeForMode(store);
  const listener = await startHttpListener({
    config,
    store: reached,
    metrics,
    chain,
    logger: pino({ level: 'silent' }),
    admin: {
      isDraining: () => state.draining,
      metricsContentType: metrics.contentType,
      metrics: () => metrics.render(),
      status: async () =>
        statusDocument({
          version: 'test',
          startedAt: new Date(),
          draining: state.draining,
          listeners: {},
          workers: 1,
          storeDir: '',
          usage: store.usage(),
          activity: metrics.activity(),
        }),
    },
  });
  if (reached === store) return listener;
  // The channel to the store (HOARD_WORKERS > 1) ends with the listener; the store stays the test's.
  const { drain, destroy } = listener;
  return Object.assign(listener, {
    drain: async (deadline: number) => {
      await drain(deadline);
      await reached.close();
    },
    destroy: () => {
      destroy();
      void reached.close();
    },
  });
}
