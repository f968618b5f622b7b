// An HTTP listener on 127.0.0.1 over a store the test made (a failing or gated one), with
// silent logs and its own metrics (or the chain it is given); `draining` is what /readyz reports.
import pino from 'pino';
import type { CallChain } from '../../src/core/call.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
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
  return startHttpListener({
    config,
    store,
    metrics,
    chain,
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
