// An HTTP listener on 127.0.0.1 over a store the test made (a failing or gated one), with
// silent logs and its own metrics; `draining` is what /readyz reports.
import pino from 'pino';
import { loadConfig } from '../../src/config/load-config.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { startHttpListener, type HttpListener } from '../../src/server/http-listener.ts';
import type { Store } from '../../src/storage/store.ts';

export async function startHttpListenerOver(
  store: Store,
  state: { draining: boolean } = { draining: false },
): Promise<HttpListener> {
  const config = await loadConfig({
    env: {},
    flags: { httpAddress: '127.0.0.1:0', grpcAddress: '', accessLog: 'off' },
  });
  const metrics = createMetrics({ processMetrics: false });
  return startHttpListener({
    config,
    store,
    metrics,
    logger: pino({ level: 'silent' }),
    admin: {
      version: 'test',
      startedAt: new Date(),
      metrics,
      storeDir: '',
      usage: () => store.usage(),
      isDraining: () => state.draining,
      listeners: () => ({}),
    },
  });
}
