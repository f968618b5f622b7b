// The chain every listener uses unless it is given another: access control (when any
// source of identities is configured), the access log (when --access-log is on), request
// metrics and error counting. Only access control admits; the others hear outcomes.
import type { CallChain } from '../../core/call.ts';
import type { Config } from '../../config/schema.ts';
import type { Metrics } from '../../metrics/metrics.ts';
import { accessControlOn, type AccessConfig } from '../../access/authenticator.ts';
import { accessControl } from './access-control.ts';
import { accessLog, type AccessLogger } from './access-log.ts';
import { createCallChain } from '../../core/call-chain.ts';
import { errorCounting, requestMetrics } from './request-metrics.ts';

export interface ChainOptions {
  readonly config: Pick<Config, 'accessLog'> & AccessConfig;
  readonly metrics: Metrics;
  readonly logger: { child(bindings: object): AccessLogger & { error(obj: object, msg: string): void } };
}

export function defaultCallChain({ config, metrics, logger }: ChainOptions): CallChain {
  return createCallChain([
    ...(accessControlOn(config) ? [accessControl(config, logger.child({ log: 'access-control' }))] : []),
    ...(config.accessLog ? [accessLog(logger.child({ log: 'access' }))] : []),
    requestMetrics(metrics),
    errorCounting(metrics),
  ]);
}
