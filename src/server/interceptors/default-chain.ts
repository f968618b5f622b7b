// The chain every listener uses unless it is given another: the access log (when
// --access-log is on), request metrics and error counting, in that order. Access control
// joins here as admitting interceptors, so it holds for every protocol alike.
import type { CallChain } from '../../core/call.ts';
import type { Config } from '../../config/schema.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import { accessLog, type AccessLogger } from './access-log.ts';
import { createCallChain } from '../../core/call-chain.ts';
import { errorCounting, requestMetrics } from './request-metrics.ts';

export interface ChainOptions {
  readonly config: Pick<Config, 'accessLog'>;
  readonly metrics: Metrics;
  readonly logger: { child(bindings: object): AccessLogger };
}

export function defaultCallChain({ config, metrics, logger }: ChainOptions): CallChain {
  return createCallChain([
    ...(config.accessLog ? [accessLog(logger.child({ log: 'access' }))] : []),
    requestMetrics(metrics),
    errorCounting(metrics),
  ]);
}
